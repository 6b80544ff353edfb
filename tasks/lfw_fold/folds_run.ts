/**
 * The whole unseen-identity protocol over a list of folds (`deno task lfw-fold --folds 1,2,3`):
 * for each fold, its split (./split.ts) and a `deno task train` run on it in its own
 * folder, then each fold's final held-out score and their mean and spread. Runs the folds one
 * after the other (each run uses the machine's cores). A fold whose run already finished is read,
 * not retrained, and one that was cut off is resumed, so the command can simply be run again with
 * the same train flags (recorded per fold; other flags are refused, exit 2).
 */
import { join } from "node:path";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { UsageError } from "../cli.ts";
import { trainArgs, writeFoldSplit } from "./split.ts";

/** One fold's outcome. */
export interface FoldResult {
  fold: number;
  /** The run folder. */
  run: string;
  /** Step of the final held-out evaluation. */
  step: number;
  /** 10-fold mean accuracy on the fold's 600 pairs, in [0, 1]; its std and AUC. */
  accuracy: number;
  std: number;
  auc: number;
  /**
   * Wall-clock minutes of the run, from its first log line to its final held-out score (read from
   * the run folder, so a fold finished by an earlier invocation keeps its time; a pause between a
   * cut-off run and its resume counts).
   */
  minutes: number;
  /** The `deno task train` flags the run was trained with (`-- TRAIN FLAGS`). */
  train: string[];
}

/** Mean and spread of the folds' accuracies. */
export interface FoldsSummary {
  folds: FoldResult[];
  mean: number;
  /** Sample standard deviation over the folds (0 for one fold). */
  spread: number;
  min: number;
  max: number;
}

export interface RunFoldsOptions {
  aligned: string;
  pairs: string;
  folds: number[];
  /** Parent folder: `<out>/fold<k>/split` and `<out>/fold<k>/run`. */
  out: string;
  /** Extra `deno task train` flags (after the preset's data flags), e.g. ["--steps", "300"]. */
  train: string[];
  /** Where progress lines and the runs' output go. Default: stderr. */
  log?: WritableStream<Uint8Array>;
}

/** `<fold folder>/train_flags.json`: the train flags its run was started with. */
const FLAGS_FILE = "train_flags.json";

/** `--flag value...` groups of `args` in `a` but not in `b`, joined for a message. */
function groupsNotIn(a: string[], b: string[]): string[] {
  const groups = (args: string[]) =>
    args.reduce<string[]>((g, x) => {
      if (x.startsWith("-") || g.length === 0) g.push(x);
      else g[g.length - 1] += ` ${x}`;
      return g;
    }, []);
  const other = new Set(groups(b));
  return groups(a).filter((g) => !other.has(g));
}

/**
 * Refuses (UsageError, exit 2) a fold whose run was started with other train flags than `train`:
 * resuming it or reusing its score would mix runs of different settings into one mean.
 */
async function checkFlags(dir: string, train: string[]): Promise<void> {
  const path = join(dir, FLAGS_FILE);
  const recorded = await Deno.readTextFile(path).then(
    (t) => JSON.parse(t).train as string[],
    (e) => {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    },
  );
  if (recorded === null) {
    throw new UsageError(
      `"${dir}" holds a run without ${FLAGS_FILE} (its train flags are unknown): ` +
        `use another --out or remove the fold folder`,
    );
  }
  const was = groupsNotIn(recorded, train), now = groupsNotIn(train, recorded);
  if (was.length || now.length) {
    throw new UsageError(
      `"${dir}" was trained with other flags than requested: ` +
        `its run has [${was.join(", ")}], the request [${now.join(", ")}]; ` +
        `use another --out, or repeat the fold's flags (${path})`,
    );
  }
}

/** The run's step count and its evaluation at that step, if it finished. */
async function finished(
  run: string,
): Promise<Omit<FoldResult, "fold" | "run" | "train"> | null> {
  const { readJsonLines } = await import("../../model/train/train_plot.ts");
  const { readRunJson } = await import("../../model/train/run_folder.ts");
  const json = await readRunJson(run).catch(() => null);
  if (!json) return null;
  type Held = { time: string; step: number; accuracy: number; std: number; auc: number };
  const held = await readJsonLines<Held>(join(run, "heldout.jsonl"));
  const last = held.findLast((h) => h.step === json.config.steps);
  if (!last) return null;
  const [first] = await readJsonLines<{ time: string }>(join(run, "log.jsonl"));
  const minutes = first ? (Date.parse(last.time) - Date.parse(first.time)) / 60000 : 0;
  return { step: last.step, accuracy: last.accuracy, std: last.std, auc: last.auc, minutes };
}

/** Trains (or resumes) one fold's run as a child `deno run -A tasks/train.ts`; its exit code. */
async function train(args: string[], log: WritableStream<Uint8Array>): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../train.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  await child.stdout.pipeTo(log, { preventClose: true });
  return (await child.status).code;
}

/** Runs the protocol on every fold in `o.folds`, in order; throws naming the fold that failed. */
export async function runFolds(o: RunFoldsOptions): Promise<FoldsSummary> {
  const log = o.log ?? Deno.stderr.writable;
  const say = async (line: string) => {
    const w = log.getWriter();
    await w.write(new TextEncoder().encode(line + "\n"));
    w.releaseLock();
  };
  const results: FoldResult[] = [];
  for (const k of o.folds) {
    const dir = join(o.out, `fold${k}`), run = join(dir, "run");
    const resume = await Deno.stat(join(run, "run.json")).then(() => true, () => false);
    if (resume) await checkFlags(dir, o.train);
    let done = await finished(run);
    if (!done) {
      const split = await writeFoldSplit(o.aligned, o.pairs, k, join(dir, "split"));
      if (!resume) {
        await writeFileAtomic(join(dir, FLAGS_FILE), JSON.stringify({ train: o.train }) + "\n");
      }
      await say(
        `lfw-fold: fold ${k}: ${resume ? "resuming" : "training"} ${run} on ` +
          `${split.trainImages} images of ${split.trainPeople} people`,
      );
      const args = resume
        // The same flags: the ones that may change (--steps, --lr...) extend the run as asked.
        ? ["--resume", "--out", run, ...o.train]
        : [...trainArgs(join(dir, "split"), o.aligned), "--out", run, ...o.train];
      const code = await train(args, log);
      if (code !== 0) throw new Error(`fold ${k}: training exited with status ${code} (${run})`);
      done = await finished(run);
      if (!done) throw new Error(`fold ${k}: "${run}" ended without a final held-out score`);
    }
    const r = { fold: k, run, ...done, train: o.train };
    results.push(r);
    await say(
      `lfw-fold: fold ${k}: ${(100 * r.accuracy).toFixed(2)}% +- ${(100 * r.std).toFixed(2)} ` +
        `(AUC ${r.auc.toFixed(3)}) at step ${r.step}`,
    );
  }
  return summarize(results);
}

/** Mean, sample standard deviation, min and max of the folds' accuracies. */
export function summarize(folds: FoldResult[]): FoldsSummary {
  const a = folds.map((f) => f.accuracy);
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  const spread = a.length > 1
    ? Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / (a.length - 1))
    : 0;
  return { folds, mean, spread, min: Math.min(...a), max: Math.max(...a) };
}

/**
 * What `--resume` may change. A resumed run continues with the config stored in `DIR/run.json`;
 * flags that extend or re-pace it (steps, epochs, the LR schedule, checkpoint/log/eval cadence,
 * keep) apply and are recorded, while anything that would change the network, the data, the head
 * or the optimizer's math is an error naming the conflict, e.g.
 * `--network r50 conflicts with the run's r18 (runs/x/run.json)`.
 */
import type { TrainConfig } from "./presets.ts";
import { RunFolderError } from "./run_lock.ts";

/** Flag values by long name, as the task parsed them (kebab-case keys, typed values). */
export type TrainFlags = Record<string, unknown>;

/** Applies flags to a config in place and returns it (the task's flag rules: tasks/train_flags.ts). */
export type ApplyFlags = (c: TrainConfig, flags: TrainFlags) => TrainConfig;

/** Flags of one invocation, not of the run. */
export const INVOCATION_FLAGS: readonly string[] = [
  "out",
  "resume",
  "overwrite",
  "backend",
  "workers",
  "help",
];

/** Flags that extend or re-pace a run: applied on resume, printed, recorded in run.json. */
export const EXTEND_FLAGS: readonly string[] = [
  "steps",
  "epochs",
  "lr",
  "lr-steps",
  "warmup",
  "checkpoint-every",
  "keep",
  "log-every",
  "eval-every",
  "eval-pairs",
  "eval-data",
];

/** Config fields (top-level) the extending flags may change; every other field is fixed. */
export const EXTEND_FIELDS: readonly string[] = [
  "steps",
  "epochs",
  "schedule",
  "checkpointEvery",
  "keep",
  "logEvery",
  "evalEvery",
  "evalPairs",
  "evalData",
];

/** The flag that sets a fixed config path, for messages. */
const PATH_FLAG: Record<string, string> = {
  preset: "preset",
  data: "data",
  dataRoot: "data-root",
  "network.depth": "network",
  "network.width": "width",
  "network.inputSize": "input-size",
  "network.embeddingSize": "embedding-size",
  "network.dropout": "dropout",
  batchSize: "batch-size",
  microBatch: "micro-batch",
  "margin.type": "margin",
  "margin.s": "s",
  "margin.m1": "m1",
  "margin.m2": "m2",
  "margin.m3": "m3",
  weightDecay: "wd",
  momentum: "momentum",
  seed: "seed",
  initFrom: "init-from",
  decayOn: "wd-on",
  dctScale: "dct-scale",
  numClasses: "num-classes",
};

/** A stored config as it runs: runs older than `--dct-scale` decoded at the DCT scale ("auto"). */
export function withDctScale(c: TrainConfig): TrainConfig {
  return { ...c, dctScale: c.dctScale ?? "auto" };
}

/** One difference between two configs. */
export interface ConfigChange {
  field: string;
  from: unknown;
  to: unknown;
}

function flatten(x: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (x !== null && typeof x === "object" && !Array.isArray(x)) {
    for (const [k, v] of Object.entries(x)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (x !== undefined) out.set(prefix, x);
  return out;
}

/** Leaf-by-leaf differences between two configs (arrays compared whole). */
export function configDiff(a: TrainConfig, b: TrainConfig): ConfigChange[] {
  const fa = flatten(a, "", new Map());
  const fb = flatten(b, "", new Map());
  const changes: ConfigChange[] = [];
  for (const field of new Set([...fa.keys(), ...fb.keys()])) {
    const from = fa.get(field);
    const to = fb.get(field);
    if (JSON.stringify(from) !== JSON.stringify(to)) changes.push({ field, from, to });
  }
  return changes;
}

const isExtendField = (field: string) => EXTEND_FIELDS.includes(field.split(".")[0]);

function show(field: string, v: unknown): string {
  if (v === undefined) return "(unset)";
  if (field === "network.depth") return `r${v}`;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Changes `config` makes to `stored` that a resume may not make, as messages naming `source`. */
export function configConflicts(
  stored: TrainConfig,
  config: TrainConfig,
  source: string,
): string[] {
  return configDiff(stored, config).filter((d) => !isExtendField(d.field)).map((d) => {
    const flag = PATH_FLAG[d.field];
    const what = flag ? `--${flag} ${show(d.field, d.to)}` : `${d.field} ${show(d.field, d.to)}`;
    return `${what} conflicts with the run's ${show(d.field, d.from)} (${source})`;
  });
}

/** The extending changes `config` makes to `stored` (what a resume prints and records). */
export function extendChanges(stored: TrainConfig, config: TrainConfig): ConfigChange[] {
  return configDiff(stored, config).filter((d) => isExtendField(d.field));
}

/**
 * The config a `--resume` continues with: `stored` plus the extending flags. Throws a
 * `RunFolderError` listing every flag that conflicts with the run (`source` names run.json).
 */
export function resumeConfig(
  stored: TrainConfig,
  flags: TrainFlags,
  source: string,
  applyFlags: ApplyFlags,
): TrainConfig {
  const problems: string[] = [];
  const extend: TrainFlags = {};
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || v === false || INVOCATION_FLAGS.includes(k)) continue;
    if (EXTEND_FLAGS.includes(k)) {
      extend[k] = v;
      continue;
    }
    if (k === "preset") {
      if (v !== stored.preset) {
        problems.push(`--preset ${v} conflicts with the run's ${stored.preset} (${source})`);
      }
      continue;
    }
    // Apply the one flag to the run's config: a change to a fixed field is a conflict.
    const probe = applyFlags(structuredClone(stored), { [k]: v });
    const d = configDiff(stored, probe).find((x) => !isExtendField(x.field));
    if (d) {
      problems.push(`--${k} ${v} conflicts with the run's ${show(d.field, d.from)} (${source})`);
    }
  }
  if (problems.length) throw new RunFolderError(problems.join("; "));
  return applyFlags(structuredClone(stored), extend);
}

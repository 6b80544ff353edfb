/**
 * Soak check of kill -9 + resume (NOT run in CI; the result is in docs/runs.md). Trains the tiny
 * preset twice through `npx -y deno@2 run -A tasks/train.ts`, each in its own session/process
 * group: run A uninterrupted, run B killed with SIGKILL to the whole process group (npx AND the
 * deno grandchild) every few hundred steps and resumed with a bare `--resume` each time. Passes
 * when B's final checkpoint holds the same tensors as A's, bit for bit (the header's digest and
 * timestamps aside), both logs have strictly increasing steps, nothing of the group survives a
 * kill, each resume takes over the stale lock, no temp file or extra checkpoint is left, and
 * `numTensors` stays flat (RSS is reported).
 *
 *   nice deno run -A scripts/soak_train.ts [--steps 2000] [--kills 6] [--dir DIR]
 *
 * Prints one JSON object; exit 0 when every check passed, 1 when one failed, 2 on a usage error.
 */
import { join } from "node:path";
import { parseFlags, runTask } from "../tasks/cli.ts";
import { listCheckpoints, readCheckpointFile } from "../model/train/checkpoint.ts";

const HELP = `Usage: deno run -A scripts/soak_train.ts [--steps N] [--kills K] [--dir DIR]

Trains the tiny preset twice (run A uninterrupted, run B killed with SIGKILL K times and resumed)
and checks that both end on the same checkpoint, bit for bit. Prints one JSON object.
  --steps N   training steps of each run (default 2000)
  --kills K   kills of run B (default 6)
  --dir DIR   where the runs go (default: a new temp folder, kept)

Exit status: 0 every check passed, 1 a check failed, 2 usage error.`;

const FLAGS = {
  steps: { type: "int", min: 1, default: 2000 },
  kills: { type: "int", min: 0, default: 6 },
  dir: { type: "string" },
} as const;

const failures: string[] = [];
const check = (ok: boolean, what: string) => ok || failures.push(what);

const common = ["--preset", "tiny", "--backend", "wasm", "--eval-pairs", ""];
const runArgs = (out: string, steps: number) => [
  ...common,
  ...["--steps", String(steps), "--checkpoint-every", "50", "--log-every", "10", "--keep", "2"],
  ...["--out", out],
];

interface Launched {
  pid: number;
  status: Promise<Deno.CommandStatus>;
}

/** Starts `npx deno run tasks/train.ts` in a new session (its pid is the process group id). */
function launch(args: string[], logFile: string): Launched {
  const cmd = ["npx", "-y", "deno@2", "run", "-A", "tasks/train.ts", ...args]
    .map((a) => `'${a}'`).join(" ");
  const child = new Deno.Command("bash", {
    args: ["-c", `exec setsid ${cmd} >> '${logFile}' 2>&1`],
    env: { DENO_NO_UPDATE_CHECK: "1", ARCSTREAM_WASM_THREADS: "1" },
    stdin: "null",
  }).spawn();
  return { pid: child.pid, status: child.status };
}

/** Pids whose process group is `pgid` (from /proc). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[0] is the state: a zombie (Z) is dead, only not yet reaped.
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(Number(e.name));
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

async function loggedStep(out: string): Promise<number> {
  const text = await Deno.readTextFile(join(out, "log.jsonl")).catch(() => "");
  let max = 0;
  for (const line of text.split("\n")) {
    try {
      max = Math.max(max, JSON.parse(line).step);
    } catch {
      // Empty or torn line.
    }
  }
  return max;
}

async function readLog(out: string) {
  const text = await Deno.readTextFile(join(out, "log.jsonl"));
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs A and B side by side, killing and resuming B `kills` times; checks both exit 0. */
async function soak(dir: string, steps: number, kills: number) {
  const outA = join(dir, "A");
  const outB = join(dir, "B");
  // A (uninterrupted) and B (killed and resumed) run side by side.
  const a = launch(runArgs(outA, steps), join(dir, "A.out"));
  const killedAt: number[] = [];
  let staleTakeovers = 0;
  let survivors = 0;
  let cutLines = 0;
  let b = launch(runArgs(outB, steps), join(dir, "B.out"));
  for (let k = 1; k <= kills; k++) {
    // Aim between checkpoints (every 50) so the log holds steps past the one a resume starts from.
    const target = Math.round((k * steps) / (kills + 1)) + 10 + Math.floor(Math.random() * 30);
    while ((await loggedStep(outB)) < target) await sleep(500);
    await sleep(Math.random() * 2000); // not right after a log line
    killedAt.push(await loggedStep(outB));
    await new Deno.Command("kill", { args: ["-9", "--", `-${b.pid}`] }).output();
    await b.status;
    await sleep(1000);
    const left = groupMembers(b.pid);
    survivors += left.length;
    for (const pid of left) {
      const cmd = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "?");
      console.error(`kill ${k}: pid ${pid} survived: ${cmd.replaceAll("\0", " ")}`);
    }
    const lock = await Deno.readTextFile(join(outB, "lock")).catch(() => null);
    check(lock !== null, `kill ${k}: no stale lock left (was the trainer really killed?)`);
    const before = (await Deno.readTextFile(join(dir, "B.out"))).length;
    b = launch(["--resume", "--out", outB, "--backend", "wasm"], join(dir, "B.out"));
    // Wait until the resumed trainer has started (or given up) before aiming the next kill.
    let said = "";
    for (let done = false; !/resumed from/.test(said) && !done;) {
      done = await Promise.race([b.status.then(() => true), sleep(500).then(() => false)]);
      said = (await Deno.readTextFile(join(dir, "B.out"))).slice(before);
    }
    if (/taking over the stale lock/.test(said)) staleTakeovers++;
    cutLines += Number(/log\.jsonl cut back by (\d+) lines/.exec(said)?.[1] ?? 0);
  }
  const [sa, sb] = await Promise.all([a.status, b.status]);
  check(sa.code === 0, `run A exited ${sa.code}`);
  check(sb.code === 0, `run B's last resume exited ${sb.code}`);
  check(survivors === 0, `${survivors} processes of a killed group survived`);
  check(staleTakeovers === kills, `stale lock taken over ${staleTakeovers} of ${kills} times`);
  check(cutLines > 0, "no resume had log lines to cut back (kills all landed on checkpoints)");
  return { outA, outB, killedAt, staleTakeovers, cutLines };
}

/** Checks the final checkpoints hold the same tensors, bit for bit. */
async function compareCheckpoints(outA: string, outB: string, steps: number) {
  // Final weights: same tensors, bit for bit.
  const ckA = (await listCheckpoints(join(outA, "checkpoints"))).pop()!;
  const ckB = (await listCheckpoints(join(outB, "checkpoints"))).pop()!;
  const fa = await readCheckpointFile(ckA);
  const fb = await readCheckpointFile(ckB);
  check(fa.meta.step === steps && fb.meta.step === steps, "final checkpoints not at the last step");
  check(JSON.stringify(fa.meta.cursor) === JSON.stringify(fb.meta.cursor), "cursors differ");
  check(JSON.stringify(fa.tensors) === JSON.stringify(fb.tensors), "tensor tables differ");
  const dataA = fa.bytes.subarray(fa.dataStart, fa.bytes.length - 32);
  const dataB = fb.bytes.subarray(fb.dataStart, fb.bytes.length - 32);
  let differing = dataA.length === dataB.length ? 0 : -1;
  if (differing === 0) {
    for (let i = 0; i < dataA.length; i++) {
      if (dataA[i] !== dataB[i]) differing++;
    }
  }
  check(differing === 0, `tensor data differs (${differing} bytes)`);
  return { finalCheckpointBytes: fa.bytes.length, differing };
}

/** Checks the logs, leftovers and memory of the two runs. */
async function compareLogs(outA: string, outB: string) {
  // Logs, leftovers, memory.
  const logA = await readLog(outA);
  const logB = await readLog(outB);
  const increasing = (l: { step: number }[]) =>
    l.every((e, i) => i === 0 || e.step > l[i - 1].step);
  check(increasing(logA) && increasing(logB), "log.jsonl steps not strictly increasing");
  const stepsB = new Set(logB.map((e) => e.step));
  check(logA.every((e) => stepsB.has(e.step)), "B's log lacks steps A logged");
  const leftovers = [...Deno.readDirSync(join(outB, "checkpoints"))].map((e) => e.name);
  check(leftovers.length <= 2 && leftovers.every((n) => /^ckpt-\d+\.arcs$/.test(n)), "leftovers");
  check(!(await Deno.stat(join(outB, "lock")).catch(() => null)), "lock left after the last run");
  const tensorsA = [...new Set(logA.slice(1).map((e) => e.numTensors))];
  check(tensorsA.length === 1, `numTensors not flat: ${tensorsA.join(", ")}`);
  const mib = (x: number) => Math.round(x / 2 ** 20);
  const quarter = Math.max(1, Math.floor(logA.length / 4));
  const median = (xs: number[]) => xs.sort((p, q) => p - q)[Math.floor(xs.length / 2)];
  const rssEarly = median(logA.slice(1, 1 + quarter).map((e) => e.rssBytes));
  const rssLate = median(logA.slice(-quarter).map((e) => e.rssBytes));
  return {
    numTensors: tensorsA,
    rssMiB: { firstQuarterMedian: mib(rssEarly), lastQuarterMedian: mib(rssLate) },
    rssMiBRange: [
      mib(Math.min(...logA.map((e) => e.rssBytes))),
      mib(Math.max(...logA.map((e) => e.rssBytes))),
    ],
  };
}

async function main(): Promise<number> {
  const { flags: v } = parseFlags(Deno.args, FLAGS, { help: HELP });
  const { steps, kills } = v;
  const dir = v.dir ?? await Deno.makeTempDir({ prefix: "arcstream-soak-" });
  const t0 = Date.now();
  const runs = await soak(dir, steps, kills);
  const ck = await compareCheckpoints(runs.outA, runs.outB, steps);
  const memory = await compareLogs(runs.outA, runs.outB);
  console.log(JSON.stringify(
    {
      ok: failures.length === 0,
      failures,
      steps,
      killedAfterLoggedStep: runs.killedAt,
      staleLockTakeovers: runs.staleTakeovers,
      logLinesCutOnResume: runs.cutLines,
      finalCheckpointBytes: ck.finalCheckpointBytes,
      differingTensorBytes: ck.differing,
      ...memory,
      wallSeconds: Math.round((Date.now() - t0) / 1000),
      dir,
    },
    null,
    2,
  ));
  return failures.length === 0 ? 0 : 1;
}

await runTask("soak_train", main);

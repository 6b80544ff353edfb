import { assertEquals, assertThrows } from "@std/assert";
import { shardFromEnv } from "../tasks/align/shard.ts";
import { parseAlignArgs } from "../tasks/align.ts";
import { UsageError } from "../tasks/cli.ts";
import { runTask } from "./run_task.ts";

const ALIGN = new URL("../tasks/align.ts", import.meta.url).pathname;

Deno.test("--shard auto takes index and count from a Slurm array task's environment", () => {
  const env = { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "4" };
  assertEquals(shardFromEnv(env), [2, 4]);
  assertEquals(parseAlignArgs(["in", "out", "--shard", "auto"], env).shard, [2, 4]);
  // One task resubmitted alone (sbatch --array=2: count 1) keeps its place with --shards 4.
  const alone = { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "1" };
  assertEquals(parseAlignArgs(["in", "out", "--shard", "auto", "--shards", "4"], alone).shard, [
    2,
    4,
  ]);
});

Deno.test("--shard auto refuses a Slurm array not numbered 0..N-1 unless --shards is given", () => {
  // --array=1-4: IDs 1..4, count 4: shard 0 would never run and ID 4 would be out of range.
  const fromOne = { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "4" };
  assertThrows(
    () => shardFromEnv({ ...fromOne, SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_STEP: "1" }),
    UsageError,
    "SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_STEP=1",
  );
  // --array=0-6:2: IDs 0, 2, 4, 6, count 4.
  const stepped = { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "4" };
  assertThrows(
    () => shardFromEnv({ ...stepped, SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_STEP: "2" }),
    UsageError,
    "SLURM_ARRAY_TASK_STEP=2",
  );
  // --array=0-3 (what Slurm sets), and a task resubmitted alone (MIN 2) with --shards 4.
  const plain = { ...stepped, SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_STEP: "1" };
  assertEquals(shardFromEnv(plain), [2, 4]);
  const alone = {
    SLURM_ARRAY_TASK_ID: "2",
    SLURM_ARRAY_TASK_COUNT: "1",
    SLURM_ARRAY_TASK_MIN: "2",
  };
  assertEquals(shardFromEnv(alone, 4), [2, 4]);
});

Deno.test("--shard auto takes JOB_COMPLETION_INDEX with --shards N (Kubernetes Indexed Job)", () => {
  assertEquals(shardFromEnv({ JOB_COMPLETION_INDEX: "7" }, 8), [7, 8]);
  assertThrows(() => shardFromEnv({ JOB_COMPLETION_INDEX: "7" }), UsageError, "--shards N");
  assertThrows(() => shardFromEnv({ JOB_COMPLETION_INDEX: "8" }, 8), UsageError, "out of range");
});

Deno.test("--shard auto names the variables when they are missing or inconsistent", () => {
  assertThrows(
    () => shardFromEnv({}),
    UsageError,
    "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT",
  );
  assertThrows(() => shardFromEnv({}), UsageError, "JOB_COMPLETION_INDEX");
  assertThrows(
    () => shardFromEnv({ SLURM_ARRAY_TASK_ID: "1" }),
    UsageError,
    "SLURM_ARRAY_TASK_COUNT is not",
  );
  assertThrows(
    () => shardFromEnv({ SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_COUNT: "4" }),
    UsageError,
    "SLURM_ARRAY_TASK_ID=4, SLURM_ARRAY_TASK_COUNT=4",
  );
  assertThrows(
    () => shardFromEnv({ SLURM_ARRAY_TASK_ID: "x", SLURM_ARRAY_TASK_COUNT: "4" }),
    UsageError,
    'SLURM_ARRAY_TASK_ID="x"',
  );
  assertThrows(
    () => parseAlignArgs(["in", "out", "--shards", "4"], {}),
    UsageError,
    "--shard auto",
  );
});

Deno.test("deno task align --shard auto without a scheduler environment exits 2 naming it", async () => {
  const r = await runTask(ALIGN, ["in", "out", "--shard", "auto"]);
  assertEquals(r.code, 2, r.stderr);
  if (!r.stderr.includes("SLURM_ARRAY_TASK_ID")) throw new Error(r.stderr);
});

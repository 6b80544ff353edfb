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

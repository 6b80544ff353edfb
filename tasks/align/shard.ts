/**
 * `deno task align --shard auto`: the shard index and count from the scheduler's environment, so
 * one command line serves every task of a Slurm job array or a Kubernetes Indexed Job
 * (docs/cluster.md).
 *
 * - Slurm: `SLURM_ARRAY_TASK_ID` is the index, `SLURM_ARRAY_TASK_COUNT` the count (submit with
 *   `--array=0-(N-1)`). Without `--shards`, an array not starting at 0 (`SLURM_ARRAY_TASK_MIN`)
 *   or with a step (`SLURM_ARRAY_TASK_STEP`) is refused: its IDs are not 0..count-1, so shard 0
 *   would never run. With `--shards N` the count is N instead, so a single task resubmitted
 *   alone (`sbatch --array=2`, whose SLURM_ARRAY_TASK_COUNT is 1) still means shard 2 of N.
 * - Kubernetes: `JOB_COMPLETION_INDEX` is the index; the count is `--shards N` (the Job's
 *   `completions`), since the Job does not export it.
 */
import { UsageError } from "../cli.ts";

const SLURM_ID = "SLURM_ARRAY_TASK_ID";
const SLURM_COUNT = "SLURM_ARRAY_TASK_COUNT";
const SLURM_MIN = "SLURM_ARRAY_TASK_MIN";
const SLURM_STEP = "SLURM_ARRAY_TASK_STEP";
const K8S_INDEX = "JOB_COMPLETION_INDEX";

/** A non-negative integer environment variable, or undefined when it is unset or empty. */
function envInt(env: Record<string, string | undefined>, name: string): number | undefined {
  const s = env[name];
  if (s === undefined || s.trim() === "") return undefined;
  if (!/^\s*\d+\s*$/.test(s)) {
    throw new UsageError(`--shard auto: ${name}="${s}" is not a non-negative integer`);
  }
  return Number(s);
}

/** Without `--shards`, the array's IDs must be 0..count-1: no other start, no step. */
function checkSlurmRange(env: Record<string, string | undefined>): void {
  const min = envInt(env, SLURM_MIN), step = envInt(env, SLURM_STEP);
  if ((min !== undefined && min !== 0) || (step !== undefined && step !== 1)) {
    throw new UsageError(
      `--shard auto: ${SLURM_MIN}=${min ?? "unset"}, ${SLURM_STEP}=${step ?? "unset"}: the ` +
        `array's task IDs are not 0..${SLURM_COUNT}-1 (shard 0 would never run); submit it as ` +
        `--array=0-(N-1), or pass --shards N`,
    );
  }
}

/**
 * `[index, count]` for `--shard auto` from `env`; `shards` is `--shards N` when given. Throws a
 * `UsageError` naming the variables when they are missing or disagree.
 */
export function shardFromEnv(
  env: Record<string, string | undefined>,
  shards?: number,
): [number, number] {
  const id = envInt(env, SLURM_ID);
  const k8s = envInt(env, K8S_INDEX);
  let index: number, count: number, names: string;
  if (id !== undefined) {
    const slurmCount = envInt(env, SLURM_COUNT);
    if (shards === undefined && slurmCount === undefined) {
      throw new UsageError(
        `--shard auto: ${SLURM_ID}=${id} is set but ${SLURM_COUNT} is not: give --shards N`,
      );
    }
    if (shards === undefined) checkSlurmRange(env);
    [index, count] = [id, shards ?? slurmCount!];
    names = shards === undefined
      ? `${SLURM_ID}=${id}, ${SLURM_COUNT}=${count}`
      : `${SLURM_ID}=${id}, --shards ${count}`;
  } else if (k8s !== undefined) {
    if (shards === undefined) {
      throw new UsageError(
        `--shard auto: ${K8S_INDEX}=${k8s} needs --shards N (the Indexed Job's completions)`,
      );
    }
    [index, count, names] = [k8s, shards, `${K8S_INDEX}=${k8s}, --shards ${shards}`];
  } else {
    throw new UsageError(
      `--shard auto needs ${SLURM_ID} and ${SLURM_COUNT} (a Slurm array task) or ` +
        `${K8S_INDEX} with --shards N (a Kubernetes Indexed Job); none is set`,
    );
  }
  if (count < 1 || index >= count) {
    throw new UsageError(
      `--shard auto: index out of range (${names}): submit the array as --array=0-${
        Math.max(count, index + 1) - 1
      } or pass --shards N with N above the largest index`,
    );
  }
  return [index, count];
}

/**
 * Shared plumbing for the stage tasks (`tasks/list.ts`, `shuffle.ts`, `decode.ts`, `batch.ts`):
 * one-line errors on stderr with a non-zero exit, quiet exit when the reader of stdout goes away
 * (`| head`), and stdin/stdout as Web Streams.
 */

/** Runs a task body; prints `name: message` on failure and exits 1 (2 for usage errors). */
export async function runTask(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe || (e as Error)?.name === "BrokenPipe") Deno.exit(0);
    const msg = e instanceof Error ? e.message : String(e);
    // node:util parseArgs rejects unknown options / missing values with ERR_PARSE_ARGS_* codes.
    const usage = e instanceof UsageError ||
      String((e as { code?: unknown })?.code ?? "").startsWith("ERR_PARSE_ARGS");
    console.error(`${name}: ${msg.split("\n")[0]}${usage ? " (see --help)" : ""}`);
    Deno.exit(usage ? 2 : 1);
  }
}

/** A bad command line (exit code 2). */
export class UsageError extends Error {}

/** Parses an integer option, with a clear message. */
export function intOption(
  name: string,
  value: string | undefined,
  fallback?: number,
  min = 0,
): number | undefined {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    const range = min <= Number.MIN_SAFE_INTEGER ? "" : ` >= ${min}`;
    throw new UsageError(`--${name} must be an integer${range}, got "${value}"`);
  }
  return Number(value);
}

/** Writes a byte stream to stdout; a closed pipe ends quietly. */
export async function toStdout(bytes: ReadableStream<Uint8Array>): Promise<void> {
  try {
    await bytes.pipeTo(Deno.stdout.writable);
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) Deno.exit(0);
    throw e;
  }
}

/** Errors if stdin is a terminal (a stage needs piped input). */
export function stdinOrUsage(task: string): ReadableStream<Uint8Array> {
  if (Deno.stdin.isTerminal()) {
    throw new UsageError(`${task} reads records from stdin; pipe something in`);
  }
  return Deno.stdin.readable;
}

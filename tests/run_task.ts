/**
 * Test helper (not a test file): runs a task script as a user would, `deno run -A <script> args`,
 * feeding `stdin` bytes when given, and returns its exit code, stdout bytes and stderr text.
 */
export interface TaskResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs `script` (a path, e.g. "tasks/list.ts") with `args`, optionally piping `stdin` in. */
export async function runTask(
  script: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<TaskResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    // A task may exit before reading all of its input (an error on the first line): not ours to
    // report, the exit code and stderr say what happened.
    await w.write(stdin).catch(() => {});
    await w.close().catch(() => {});
  }
  const p = await child.output();
  return { code: p.code, stdout: p.stdout, stderr: new TextDecoder().decode(p.stderr) };
}

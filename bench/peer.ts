/**
 * Runs a Python peer benchmark in the same run as arcstream's, so a ratio compares two figures
 * measured on the same machine at the same time (never a figure written into the code).
 * The interpreter: `ARCSTREAM_PEER_PYTHON` when set (no fallback: the user chose it), else the
 * first of `python3`, `/usr/bin/python3` that imports the modules the peer needs (Debian's
 * python3-torch / python3-opencv live in /usr/bin/python3, while a pyenv `python3` may shadow it).
 * Used by `bench pipeline` (OpenCV) and `bench train` (PyTorch).
 */

/** An interpreter that imports the peer's modules (and the first module's version), or why none. */
export type PeerPython = { python: string; version: string } | { python: null; reason: string };

const CANDIDATES = ["python3", "/usr/bin/python3"];

async function runPython(python: string, args: string[], timeoutMs: number) {
  try {
    const out = await new Deno.Command(python, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    // Not installed (NotFound), not executable, or past the time-out.
    return { code: -1, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
  }
}

const lastLine = (s: string) => s.trim().split("\n").pop()?.trim() ?? "";

/** The first interpreter that imports every module in `modules`, or why none does. */
export async function findPeerPython(
  modules: string[],
  env: string | undefined = Deno.env.get("ARCSTREAM_PEER_PYTHON"),
): Promise<PeerPython> {
  const tried: string[] = [];
  const probe = `import ${modules.join(", ")}; print(${modules[0]}.__version__)`;
  for (const python of env ? [env] : CANDIDATES) {
    const r = await runPython(python, ["-c", probe], 60_000);
    if (r.code === 0) return { python, version: lastLine(r.stdout) };
    tried.push(`${python}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
  }
  const source = env ? "ARCSTREAM_PEER_PYTHON" : CANDIDATES.join(", ");
  return {
    python: null,
    reason: `no Python that imports ${modules.join(", ")} (${source}): ${tried.join("; ")}`,
  };
}

/**
 * Runs `script` (a path beside this file) with `python`; its last stdout line is its JSON object.
 * A failure gives `{error}` with the script's last stderr line.
 */
export async function runPeerScript(
  python: string,
  script: string,
  args: string[],
  timeoutMs = 30 * 60_000,
): Promise<Record<string, unknown>> {
  const path = new URL(script, import.meta.url).pathname;
  const r = await runPython(python, [path, ...args], timeoutMs);
  if (r.code !== 0) return { error: `${script} exited ${r.code}: ${lastLine(r.stderr)}` };
  try {
    return JSON.parse(lastLine(r.stdout));
  } catch {
    return { error: `${script} printed no JSON: ${lastLine(r.stdout).slice(0, 200)}` };
  }
}

/**
 * Runs a Python peer benchmark in the same run as arcstream's, so a ratio compares two figures
 * measured on the same machine at the same time (never a figure written into the code).
 * The interpreter: `ARCSTREAM_PEER_PYTHON`, else the first of `python3`, `/usr/bin/python3` that
 * imports the modules the peer needs (Debian's python3-torch / python3-opencv live in
 * /usr/bin/python3, while a pyenv `python3` may shadow it on PATH).
 */

/** A peer's JSON output, or why there is none. */
export type PeerResult =
  | { ok: true; python: string; result: Record<string, unknown> }
  | { ok: false; reason: string };

const CANDIDATES = ["python3", "/usr/bin/python3"];

async function runPython(python: string, args: string[], timeoutMs: number) {
  try {
    const out = await new Deno.Command(python, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } catch (e) {
    return { code: -1, stdout: "", stderr: (e as Error).message };
  }
}

/** The first interpreter that imports every module in `modules`, or why none does. */
export async function findPeerPython(
  modules: string[],
): Promise<{ python: string } | { reason: string }> {
  const env = Deno.env.get("ARCSTREAM_PEER_PYTHON");
  const tried: string[] = [];
  for (const python of env ? [env] : CANDIDATES) {
    const r = await runPython(python, ["-c", `import ${modules.join(", ")}`], 60_000);
    if (r.code === 0) return { python };
    tried.push(`${python}: ${r.stderr.trim().split("\n").pop() || `exit ${r.code}`}`);
  }
  return { reason: `no Python that imports ${modules.join(", ")} (${tried.join("; ")})` };
}

/** Runs `script` (a path beside this file) with `args`; its last stdout line is its JSON. */
export async function runPeer(
  script: string,
  modules: string[],
  args: string[],
  timeoutMs = 30 * 60_000,
): Promise<PeerResult> {
  const found = await findPeerPython(modules);
  if ("reason" in found) return { ok: false, reason: found.reason };
  const path = new URL(script, import.meta.url).pathname;
  const r = await runPython(found.python, [path, ...args], timeoutMs);
  const last = r.stdout.trim().split("\n").pop() ?? "";
  if (r.code !== 0) {
    return { ok: false, reason: `${script} exited ${r.code}: ${r.stderr.trim().slice(-400)}` };
  }
  try {
    return { ok: true, python: found.python, result: JSON.parse(last) };
  } catch {
    return { ok: false, reason: `${script} printed no JSON: ${last.slice(0, 200)}` };
  }
}

/**
 * The wasm pthread worker script is code every XNNPACK worker runs: it is written only into a
 * folder of this user that others cannot write, and a file there whose bytes differ from the
 * package's (planted or stale) is replaced, never run.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "node:path";

const MODULE = new URL("../model/backend/wasm_threads.ts", import.meta.url).href;
const folder = (tmp: string) => join(tmp, `arcstream-tfjs-wasm-4.22.0-${Deno.uid()}`);

/** Runs `useThreadedWasm(2)` (which writes the worker file) in a process whose TMPDIR is `tmp`. */
async function useThreaded(tmp: string) {
  const code = `import { useThreadedWasm } from "${MODULE}"; useThreadedWasm(2)();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    env: { TMPDIR: tmp },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ok: out.success, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("the wasm worker script is written into a folder only this user can write", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const r = await useThreaded(tmp);
    assert(r.ok, r.stderr);
    const st = await Deno.stat(folder(tmp));
    assertEquals(st.mode! & 0o077, 0);
    assert((await Deno.stat(join(folder(tmp), "pthread-worker.cjs"))).isFile);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a planted worker script is replaced, and a folder others can write is refused", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    await Deno.mkdir(folder(tmp), { mode: 0o700 });
    const file = join(folder(tmp), "pthread-worker.cjs");
    await Deno.writeTextFile(file, "globalThis.planted = true;");
    const r = await useThreaded(tmp);
    assert(r.ok, r.stderr);
    assert(!(await Deno.readTextFile(file)).includes("planted"));
    await Deno.chmod(folder(tmp), 0o777);
    const shared = await useThreaded(tmp);
    assert(!shared.ok);
    assertStringIncludes(shared.stderr, "others cannot write");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

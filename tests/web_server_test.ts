/**
 * `deno task serve`'s server without a browser: path safety over the runs folder (`..`, encoded
 * `%2e%2e`, absolute paths, symlinks out), 404s, checkpoints only as downloads, run states, the
 * Host check (DNS rebinding), and the live curves' stream (log replaced, listener removed).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { startServer } from "../web/server/serve.ts";
import { makeHandler } from "../web/server/app.ts";
import { followRunLog } from "../web/server/follow_log.ts";
import { checkRelativePath, RefusedPathError } from "../web/server/safe_path.ts";
import { assertThrows } from "@std/assert";

/** A raw HTTP GET (no client-side URL normalization), returning status and body. */
async function rawGet(
  url: string,
  path: string,
  host?: string,
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host ?? u.host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const text = new TextDecoder().decode(
      await new Response(conn.readable).arrayBuffer().then((b) => new Uint8Array(b)),
    );
    return { status: Number(text.split(" ")[1]), body: text.split("\r\n\r\n").slice(1).join("") };
  } catch (e) {
    try {
      conn.close();
    } catch {
      // closed by the response stream
    }
    throw e;
  }
}

async function fixtureRuns() {
  const top = await Deno.makeTempDir({ prefix: "arcstream-serve-" });
  const runs = join(top, "runs"), outside = join(top, "outside");
  await Deno.mkdir(join(runs, "r1", "checkpoints"), { recursive: true });
  await Deno.mkdir(join(runs, "r1", "export"), { recursive: true });
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "secret.txt"), "SECRET\n");
  const config = { steps: 4, network: { depth: 18, width: 1 } };
  await Deno.writeTextFile(join(runs, "r1", "run.json"), JSON.stringify({ config }));
  const line = (step: number) => JSON.stringify({ step, totalLoss: 1, lr: 0.1 }) + "\n";
  await Deno.writeTextFile(join(runs, "r1", "log.jsonl"), line(2) + line(4));
  await Deno.writeTextFile(join(runs, "r1", "export", "model.json"), "{}");
  await Deno.writeFile(join(runs, "r1", "checkpoints", "ckpt-00000004.arcs"), new Uint8Array(16));
  await Deno.symlink(outside, join(runs, "r1", "out_link"));
  await Deno.symlink(join(outside, "secret.txt"), join(runs, "r1", "secret_link.txt"));
  // A run being trained (a lock of this live process, as pipeline/folder_lock.ts writes it) and
  // one whose trainer died (a lock of the older format, field `hostname`).
  const locks = [["live", Deno.pid, "host"], ["dead", 2 ** 22 + 7, "hostname"]] as const;
  for (const [name, pid, hostField] of locks) {
    await Deno.mkdir(join(runs, name));
    await Deno.writeTextFile(join(runs, name, "run.json"), JSON.stringify({ config }));
    await Deno.writeTextFile(join(runs, name, "log.jsonl"), line(2));
    const lock = { pid, [hostField]: Deno.hostname(), started: new Date().toISOString() };
    await Deno.writeTextFile(join(runs, name, "lock"), JSON.stringify(lock));
  }
  return { top, runs };
}

Deno.test("checkRelativePath refuses .., ., empty names, absolute paths and backslashes", () => {
  for (const p of ["..", "a/../b", "/etc/passwd", "a//b", "./a", "a\\..\\b", "C:/x", "a\0b"]) {
    assertThrows(() => checkRelativePath(p), RefusedPathError, undefined, p);
  }
  assertEquals(checkRelativePath("r1/log.jsonl"), ["r1", "log.jsonl"]);
});

Deno.test("the server refuses every path out of the runs folder and 404s unknown runs and files", async () => {
  const { top, runs } = await fixtureRuns();
  const app = await startServer({ runs, port: 0, bundleDir: top });
  try {
    const refused = [
      "/files/../outside/secret.txt",
      "/files/%2e%2e/outside/secret.txt",
      "/files/r1/%2e%2e/%2e%2e/outside/secret.txt",
      "/files/r1/..%2f..%2foutside%2fsecret.txt",
      "/files/%2F" + encodeURIComponent(join(top, "outside", "secret.txt").slice(1)),
      "/files//" + join(top, "outside", "secret.txt").slice(1),
      "/files/r1/out_link/secret.txt",
      "/files/r1/secret_link.txt",
      "/api/report?dir=..%2Foutside",
      "/api/report?dir=" + encodeURIComponent(join(top, "outside")),
      "/api/runs/..%2Foutside",
    ];
    for (const path of refused) {
      const r = await rawGet(app.url, path);
      assert(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
      assert(!r.body.includes("SECRET"), path);
    }
    // The ones that reach the path check (not normalized away by the URL parser) are 403s.
    for (const path of refused.slice(3)) {
      assertEquals((await rawGet(app.url, path)).status, 403, path);
    }
    for (const path of ["/api/runs/nope", "/files/nope/log.jsonl", "/files/r1/nope.txt", "/nope"]) {
      assertEquals((await rawGet(app.url, path)).status, 404, path);
    }
    const log = await rawGet(app.url, "/files/r1/log.jsonl");
    assertEquals(log.status, 200);
    assertStringIncludes(log.body, '"step":4');
  } finally {
    await app.close();
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("checkpoint bytes are sent only to a download link, as an attachment", async () => {
  const { top, runs } = await fixtureRuns();
  const app = await startServer({ runs, port: 0, bundleDir: top });
  try {
    const path = "files/r1/checkpoints/ckpt-00000004.arcs";
    const shown = await fetch(app.url + path);
    assertEquals(shown.status, 403);
    assertStringIncludes(await shown.text(), "download link");
    const dl = await fetch(app.url + path + "?download=1");
    assertEquals(dl.status, 200);
    assertMatch(
      dl.headers.get("content-disposition")!,
      /^attachment; filename="ckpt-00000004.arcs"/,
    );
    assertEquals((await dl.arrayBuffer()).byteLength, 16);
    const put = await fetch(app.url + "files/r1/log.jsonl", { method: "PUT", body: "x" });
    assertEquals(put.status, 405);
    await put.body?.cancel();
  } finally {
    await app.close();
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("runs are listed with their state: training (live lock), failed (dead lock), finished", async () => {
  const { top, runs } = await fixtureRuns();
  const app = await startServer({ runs, port: 0, bundleDir: top });
  try {
    const list = await (await fetch(app.url + "api/runs")).json();
    const r1 = list.find((r: { name: string }) => r.name === "r1");
    assertEquals(r1.checkpoints, ["ckpt-00000004.arcs"]);
    const states = Object.fromEntries(
      list.map((r: { name: string; state: string }) => [r.name, r.state]),
    );
    assertEquals(states, { dead: "failed", live: "training", r1: "finished" });
  } finally {
    await app.close();
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("a request naming another Host is refused (DNS rebinding); loopback names are served", async () => {
  const { top, runs } = await fixtureRuns();
  const app = await startServer({ runs, port: 0, bundleDir: top });
  const port = new URL(app.url).port;
  try {
    for (const host of [`evil.example:${port}`, "evil.example", `127.0.0.1:${Number(port) + 1}`]) {
      const r = await rawGet(app.url, "/files/r1/log.jsonl", host);
      assertEquals(r.status, 403, host);
      assert(!r.body.includes('"step"'), host);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      const r = await rawGet(app.url, "/files/r1/log.jsonl", host);
      assertEquals(r.status, 200, host);
      assertStringIncludes(r.body, '"step":4');
    }
  } finally {
    await app.close();
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("on a non-loopback --host, checkpoints download only with --allow-download", async () => {
  const { top, runs } = await fixtureRuns();
  const runsReal = await Deno.realPath(runs);
  const get = (allowDownload: boolean, path: string) =>
    makeHandler({ runsReal, bundleDir: top, host: "192.0.2.7", port: 8000, allowDownload })(
      new Request(`http://192.0.2.7:8000${path}`, { headers: { host: "192.0.2.7:8000" } }),
    );
  try {
    const dl = "/files/r1/checkpoints/ckpt-00000004.arcs?download=1";
    const refused = await get(false, dl);
    assertEquals(refused.status, 403);
    assertStringIncludes(await refused.text(), "--allow-download");
    const allowed = await get(true, dl);
    assertEquals(allowed.status, 200);
    assertEquals((await allowed.arrayBuffer()).byteLength, 16);
    const log = await get(false, "/files/r1/log.jsonl"); // other files are served as before
    assertEquals(log.status, 200);
    await log.body?.cancel();
    // Listening on every interface: any IP address names the server, a DNS name does not.
    const all = (host: string) =>
      makeHandler({ runsReal, bundleDir: top, host: "0.0.0.0", port: 8000 })(
        new Request(`http://${host}/files/r1/log.jsonl`, { headers: { host } }),
      );
    const byIp = await all("192.0.2.7:8000");
    assertEquals(byIp.status, 200);
    await byIp.body?.cancel();
    const byName = await all("evil.example:8000");
    assertEquals(byName.status, 403);
    await byName.body?.cancel();
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("a symlink to a checkpoints folder is a checkpoint too (judged on the real path)", async () => {
  const { top, runs } = await fixtureRuns();
  await Deno.symlink(join(runs, "r1", "checkpoints"), join(runs, "r1", "ck_link"));
  await Deno.writeTextFile(join(runs, "r1", "checkpoints", "notes.txt"), "optimizer state\n");
  const app = await startServer({ runs, port: 0, bundleDir: top });
  try {
    // Not a *.arcs name: only the real path (r1/checkpoints/) tells it is a checkpoint's file.
    const shown = await rawGet(app.url, "/files/r1/ck_link/notes.txt");
    assertEquals(shown.status, 403);
    assertStringIncludes(shown.body, "download link");
    assert(!shown.body.includes("optimizer"));
  } finally {
    await app.close();
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("a run folder reached through a symlink shows its own eval report's threshold", async () => {
  const { top, runs } = await fixtureRuns();
  await Deno.mkdir(join(runs, "group"));
  await Deno.rename(join(runs, "r1"), join(runs, "group", "r1"));
  await Deno.mkdir(join(runs, "group", "r1", "eval"));
  const report = { result: { bestThreshold: 1.25 } };
  await Deno.writeTextFile(
    join(runs, "group", "r1", "eval", "report.json"),
    JSON.stringify(report),
  );
  await Deno.symlink(join("group", "r1"), join(runs, "r2"));
  const app = await startServer({ runs, port: 0, bundleDir: top });
  try {
    const info = await (await fetch(app.url + "api/runs/r2")).json();
    assertEquals(info.reports, ["r2/eval"]);
    assertEquals(info.threshold, { distance: 1.25, from: "r2/eval/report.json" });
  } finally {
    await app.close();
    await Deno.remove(top, { recursive: true });
  }
});

/** The next `event: step` of an SSE stream, parsed. */
async function nextStep(reader: ReadableStreamDefaultReader<Uint8Array>) {
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended");
    const m = dec.decode(value).match(/^event: step\ndata: (.*)\n/);
    if (m) return JSON.parse(m[1]) as { step: number; entries: number };
  }
}

Deno.test("live curves: a log replaced by rename is read again; a closed stream leaves the server's signal", async () => {
  const { top, runs } = await fixtureRuns();
  const stopping = new AbortController();
  let listeners = 0;
  const { addEventListener: add, removeEventListener: remove } = stopping.signal;
  // Counts the listeners the real signal holds (the calls go through to it).
  stopping.signal.addEventListener = (...a: Parameters<typeof add>) => {
    listeners++;
    add.apply(stopping.signal, a);
  };
  stopping.signal.removeEventListener = (...a: Parameters<typeof remove>) => {
    listeners--;
    remove.apply(stopping.signal, a);
  };
  const dir = join(runs, "r1");
  const reader = followRunLog(dir, { pollMs: 10, signal: stopping.signal }).getReader();
  try {
    assertEquals(await nextStep(reader), { step: 4, entries: 2 });
    assertEquals(listeners, 1);
    // As a resume cuts the log: a new file renamed over the old one (new inode, larger here).
    // Its lines are longer than the old ones: read on from the old offset, it would give 4 entries.
    const pad = "x".repeat(60);
    const line = (step: number) => JSON.stringify({ step, totalLoss: 2, lr: 0.01, pad }) + "\n";
    await Deno.writeTextFile(join(dir, "log.jsonl.tmp"), line(1) + line(2) + line(3));
    await Deno.rename(join(dir, "log.jsonl.tmp"), join(dir, "log.jsonl"));
    assertEquals(await nextStep(reader), { step: 3, entries: 3 });
  } finally {
    await reader.cancel();
    await Deno.remove(top, { recursive: true });
  }
  assertEquals(listeners, 0);
});

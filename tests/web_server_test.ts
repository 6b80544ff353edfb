/**
 * `deno task serve`'s server without a browser: path safety over the runs folder (`..`, encoded
 * `%2e%2e`, absolute paths, symlinks out), 404s, checkpoints only as downloads, run states.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { startServer } from "../web/server/serve.ts";
import { checkRelativePath, RefusedPathError } from "../web/server/safe_path.ts";
import { assertThrows } from "@std/assert";

/** A raw HTTP GET (no client-side URL normalization), returning status and body. */
async function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`,
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

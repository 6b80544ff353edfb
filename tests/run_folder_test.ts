import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { initBackend } from "../model/backend/backend.ts";
import { QUIET, tinyRun } from "./tiny_run.ts";
import { listCheckpoints } from "../model/train/checkpoint.ts";
import { lockRunFolder, RunFolderError } from "../model/train/run_folder.ts";
import { processAlive } from "../pipeline/folder_lock.ts";
import { runTraining } from "../model/train/train_loop.ts";

await initBackend({ backend: "wasm" });

const DENO = Deno.execPath();

async function withDir(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
const loggedSteps = async (dir: string) =>
  (await Deno.readTextFile(`${dir}/log.jsonl`)).trim().split("\n").map((l) => JSON.parse(l).step);

/** heldout.jsonl lines at `steps`. */
const heldoutLines = (steps: number[]) =>
  steps.map((step) =>
    JSON.stringify({ time: "", step, accuracy: 0.9, std: 0.01, auc: 0.95, pairs: 600 }) + "\n"
  ).join("");

/** The pid of a process that has exited (for a stale lock). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  assert(!processAlive(child.pid));
  return child.pid;
}

Deno.test("a new run into a folder that holds a finished run is refused and the folder is untouched", () =>
  withDir(async (dir) => {
    await runTraining({ config: tinyRun(4), out: dir, ...QUIET });
    const before = names(dir);
    const log = await Deno.readTextFile(`${dir}/log.jsonl`);
    const e = await assertRejects(
      () => runTraining({ config: tinyRun(2), out: dir, ...QUIET }),
      RunFolderError,
    );
    assertMatch(
      e.message,
      new RegExp(`Run folder "${dir}" is not empty .*: resume its run or overwrite it`),
    );
    assertEquals(e.exitCode, 2);
    assertEquals(names(dir), before);
    assertEquals(await Deno.readTextFile(`${dir}/log.jsonl`), log);
  }));

Deno.test("overwrite clears the old run's files first; files that are not the run's stay", () =>
  withDir(async (dir) => {
    await runTraining({ config: tinyRun(6), out: dir, ...QUIET });
    await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
    await Deno.writeTextFile(`${dir}/heldout.jsonl`, heldoutLines([6]));
    const s = await runTraining({ config: tinyRun(2), out: dir, overwrite: true, ...QUIET });
    assert(!names(dir).includes("heldout.jsonl"), "the old run's heldout.jsonl is cleared");
    assertEquals(s.stoppedBy, "done");
    assertEquals(await loggedSteps(dir), [1, 2]);
    assertEquals((await listCheckpoints(`${dir}/checkpoints`)).map((p) => p.slice(-7)), [
      "02.arcs",
    ]);
    assertEquals(s.checkpoint, (await listCheckpoints(`${dir}/checkpoints`))[0]);
    assertEquals(await Deno.readTextFile(`${dir}/notes.txt`), "mine");
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/run.json`)).config.steps, 2);
  }));

Deno.test("a live trainer's lock refuses a second trainer, naming the pid", () =>
  withDir(async (dir) => {
    const holder = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      const lock = { pid: holder.pid, hostname: Deno.hostname(), started: "2026-01-01T00:00:00Z" };
      await Deno.writeTextFile(`${dir}/lock`, JSON.stringify(lock));
      const e = await assertRejects(
        () => runTraining({ config: tinyRun(2), out: dir, ...QUIET }),
        RunFolderError,
      );
      assertMatch(e.message, new RegExp(`"${dir}" is in use by pid ${holder.pid} on `));
      assertEquals(names(dir), ["lock"]);
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
    }
  }));

Deno.test("a stale lock of a dead process is taken over with a warning and released at the end", () =>
  withDir(async (dir) => {
    const pid = await deadPid();
    const lock = { pid, hostname: Deno.hostname(), started: "2026-01-01T00:00:00Z" };
    await Deno.writeTextFile(`${dir}/lock`, JSON.stringify(lock));
    const warnings: string[] = [];
    const s = await runTraining({
      config: tinyRun(2),
      out: dir,
      warn: (m) => warnings.push(m),
      ...QUIET,
    });
    assertEquals(s.stoppedBy, "done");
    assertEquals(warnings.length, 1);
    assertMatch(warnings[0], new RegExp(`stale lock ".*lock" of pid ${pid} .*no longer running`));
    assert(!names(dir).includes("lock"));
  }));

Deno.test("lockRunFolder() lets exactly one of two concurrent takers win", () =>
  withDir(async (dir) => {
    const results = await Promise.allSettled([lockRunFolder(dir), lockRunFolder(dir)]);
    assertEquals(results.filter((r) => r.status === "fulfilled").length, 1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assertMatch(lost.reason.message, new RegExp(`in use by pid ${Deno.pid}`));
    const won = results.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<
      Awaited<ReturnType<typeof lockRunFolder>>
    >;
    await won.value.release();
    assertEquals(names(dir), []);
  }));

Deno.test("resume removes temp files of killed writes and --keep holds", () =>
  withDir(async (dir) => {
    await runTraining({ config: tinyRun(4), out: dir, ...QUIET });
    await Deno.writeFile(`${dir}/checkpoints/ckpt-00000006.arcs.tmp-99999-0`, new Uint8Array(9));
    await Deno.writeTextFile(`${dir}/run.json.tmp-99999-1`, "{");
    const c = tinyRun(10);
    const s = await runTraining({ config: c, out: dir, resume: true, ...QUIET });
    assertEquals(s.step, 10);
    assertEquals(names(`${dir}/checkpoints`), ["ckpt-00000008.arcs", "ckpt-00000010.arcs"]);
    assert(!names(dir).some((n) => n.includes(".tmp-")));
  }));

Deno.test("after a kill, resume cuts log.jsonl and log.txt back to the checkpoint: no step twice", () =>
  withDir(async (dir) => {
    await runTraining({ config: tinyRun(6), out: dir, ...QUIET });
    // What a kill -9 after step 6 was logged but before its checkpoint was renamed leaves behind:
    // no ckpt-6, a torn log line, the dead trainer's lock.
    await Deno.remove(`${dir}/checkpoints/ckpt-00000006.arcs`);
    await Deno.writeTextFile(`${dir}/log.jsonl`, '{"time":"2026-', { append: true });
    // Held-out evaluations at steps 2, 4 and 6 (6 is past the checkpoint the run resumes from).
    await Deno.writeTextFile(`${dir}/heldout.jsonl`, heldoutLines([2, 4, 6]));
    const pid = await deadPid();
    await Deno.writeTextFile(`${dir}/lock`, JSON.stringify({ pid, hostname: Deno.hostname() }));
    const s = await runTraining({
      config: tinyRun(6),
      out: dir,
      resume: true,
      warn: () => {},
      ...QUIET,
    });
    assertEquals(s.step, 6);
    assertEquals(await loggedSteps(dir), [1, 2, 3, 4, 5, 6]);
    const heldSteps = (await Deno.readTextFile(`${dir}/heldout.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l).step);
    assertEquals(heldSteps, [2, 4]); // tinyRun evaluates nothing: only the cut shows
    const text = await Deno.readTextFile(`${dir}/log.txt`);
    const textSteps = [...text.matchAll(/^epoch \d+, step (\d+),/gm)].map((m) => Number(m[1]));
    assertEquals(textSteps, [1, 2, 3, 4, 5, 6]);
    assertMatch(
      text,
      /resumed from .*ckpt-00000004\.arcs at step 4 .*log.jsonl cut back by 3 lines/,
    );
  }));

Deno.test("deno task train: a non-empty --out is exit 2, and neither a run nor a resume prints noise on stderr", () =>
  withDir(async (dir) => {
    const train = (...args: string[]) =>
      new Deno.Command(DENO, {
        args: ["run", "-A", "tasks/train.ts", "--workers", "0", "--out", dir, ...args],
        env: { XDG_RUNTIME_DIR: "" },
      }).output();
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    const first = await train("--preset", "tiny", "--steps", "2");
    assertEquals(first.code, 0, dec(first.stderr));
    assertEquals(dec(first.stderr), "");
    const again = await train("--preset", "tiny", "--steps", "2");
    assertEquals(again.code, 2);
    assertMatch(dec(again.stderr), /^train: Run folder ".*" is not empty \(.*\); add --resume/);
    assertEquals(dec(again.stderr).trim().split("\n").length, 1);
    const resumed = await train("--resume", "--steps", "4");
    assertEquals(resumed.code, 0, dec(resumed.stderr));
    assertEquals(dec(resumed.stderr), "");
    assertEquals(await loggedSteps(dir), [1, 2, 3, 4]);
  }));

Deno.test("deno task train: a second trainer on a folder being trained is refused, naming the live pid", () =>
  withDir(async (dir) => {
    const base = [
      "run",
      "-A",
      "tasks/train.ts",
      "--workers",
      "0",
      "--backend",
      "wasm",
      "--out",
      dir,
    ];
    const first = new Deno.Command(DENO, {
      args: [...base, "--preset", "tiny", "--steps", "500", "--checkpoint-every", "2"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const deadline = Date.now() + 60_000;
      while ((await Deno.readTextFile(`${dir}/log.jsonl`).catch(() => "")).split("\n").length < 4) {
        assert(Date.now() < deadline, "training did not start within 60 s");
        await new Promise((r) => setTimeout(r, 200));
      }
      const second = await new Deno.Command(DENO, { args: [...base, "--resume"] }).output();
      assertEquals(second.code, 2);
      assertMatch(
        new TextDecoder().decode(second.stderr),
        new RegExp(
          `^train: Run folder ".*" is in use by pid ${first.pid} on .*; stop that trainer`,
        ),
      );
    } finally {
      first.kill("SIGINT");
      await first.status;
    }
    assert(!names(dir).includes("lock"), "the first trainer did not release its lock");
  }));

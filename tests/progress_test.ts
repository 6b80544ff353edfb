import { assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { clock, Progress } from "../tasks/align/progress.ts";
import { TrainLog } from "../model/train/train_log.ts";

/** A writable that keeps what it is given, as text. */
function sink(): { writable: WritableStream<Uint8Array>; text: () => string } {
  const chunks: Uint8Array[] = [];
  const writable = new WritableStream<Uint8Array>({ write: (c) => void chunks.push(c) });
  return { writable, text: () => chunks.map((c) => new TextDecoder().decode(c)).join("") };
}

Deno.test("align Progress draws done/total, faces/s and faceless images, and ends its line", async () => {
  const out = sink();
  const p = new Progress(4, { tty: true, writable: out.writable });
  p.tick(true);
  p.tick(false);
  p.tick(true);
  await p.done();
  const last = out.text().split("\r\x1b[K").at(-1)!;
  assertMatch(last, /^\[#+-+\] 3\/4 75\.0% ETA \d+:\d\d [\d.]+ faces\/s, 1 without a face/);
  assertStrictEquals(last.endsWith("\n"), true);
});

Deno.test("align Progress draws nothing when stderr is not a terminal or --quiet", async () => {
  for (const o of [{ tty: false }, { tty: true, quiet: true }]) {
    const out = sink();
    const p = new Progress(2, { ...o, writable: out.writable });
    p.tick(true);
    await p.done();
    assertStrictEquals(out.text(), "");
  }
  assertEquals([clock(5), clock(65), clock(3725)], ["0:05", "1:05", "1:02:05"]);
});

Deno.test("TrainLog progress bar shows step/total, loss and images/s and stops at the end", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = sink();
    const lines: string[] = [];
    const log = new TrainLog(dir, {
      print: (l) => lines.push(l),
      progress: true,
      progressWritable: out.writable,
    });
    log.progress(5, 10, 1.23456, 42);
    log.progress(10, 10, 0.5, 40); // the last step stops the bar
    await log.stopProgress();
    assertMatch(out.text(), /\[#{30}\] 10\/10 loss 0\.500 40\.0 img\/s\n$/);
    const quiet = new TrainLog(dir, { print: () => {}, progress: false });
    quiet.progress(1, 2, 1, 1); // no bar, no timer left running
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

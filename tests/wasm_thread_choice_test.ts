import { assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import {
  chooseWasmThreads,
  physicalCores,
  physicalCoresFromCpuinfo,
} from "../model/backend/wasm_thread_choice.ts";

Deno.test("auto uses one wasm thread per physical core (at most 8), whatever the load, and says why", () => {
  const two = chooseWasmThreads({ flagName: "--threads", cores: 2 });
  assertStrictEquals(two.threads, 2);
  assertMatch(two.why, /one per physical core: 2 cores/);
  assertMatch(two.why, /--threads N or ARCSTREAM_WASM_THREADS/);
  assertStrictEquals(chooseWasmThreads({ cores: 1 }).threads, 1);
  const many = chooseWasmThreads({ cores: 32 });
  assertStrictEquals(many.threads, 8);
  assertMatch(many.why, /32 cores \(the wasm pool's maximum\)/);
  // "auto" as the flag or the env var is the same rule; an empty env var counts as unset.
  assertStrictEquals(chooseWasmThreads({ flag: "auto", env: "auto", cores: 4 }).threads, 4);
  assertStrictEquals(chooseWasmThreads({ env: " ", cores: 4 }).threads, 4);
});

Deno.test("--threads beats ARCSTREAM_WASM_THREADS, which beats the core count", () => {
  assertEquals(chooseWasmThreads({ flag: 1, flagName: "--threads", env: "3", cores: 2 }), {
    threads: 1,
    why: "--threads 1",
  });
  // Without the task's spelling, the backend option's name (model/ knows no flags).
  assertEquals(chooseWasmThreads({ flag: 2, cores: 1 }).why, "wasmThreads 2");
  assertEquals(chooseWasmThreads({ env: "1", cores: 2 }), {
    threads: 1,
    why: "ARCSTREAM_WASM_THREADS=1",
  });
  assertEquals(chooseWasmThreads({ flag: "auto", env: "3", cores: 2 }).threads, 3);
  assertThrows(
    () => chooseWasmThreads({ env: "0", cores: 2 }),
    RangeError,
    'ARCSTREAM_WASM_THREADS must be "auto" or an integer in [1, 8], got "0"',
  );
  assertThrows(
    () => chooseWasmThreads({ flag: 9, flagName: "--threads", cores: 2 }),
    RangeError,
    "--threads must be",
  );
  assertThrows(() => chooseWasmThreads({ flag: "2.5", cores: 2 }), RangeError, '"2.5"');
});

Deno.test("physical cores count hyper-threads once, per socket", () => {
  const cpu = (socket: number, core: number) =>
    `processor\t: x\nphysical id\t: ${socket}\ncore id\t\t: ${core}\n`;
  // 2 sockets x 2 cores x 2 hyper-threads = 8 logical CPUs, 4 physical cores.
  const text = [0, 1].flatMap((s) => [0, 1, 0, 1].map((c) => cpu(s, c))).join("\n");
  assertStrictEquals(physicalCoresFromCpuinfo(text), 4);
  assertStrictEquals(physicalCoresFromCpuinfo("processor\t: 0\nBogoMIPS\t: 50\n"), null);
  const here = physicalCores();
  assertStrictEquals(Number.isInteger(here) && here >= 1, true);
  assertStrictEquals(here <= navigator.hardwareConcurrency, true);
});

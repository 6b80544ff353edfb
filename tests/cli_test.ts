import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { HelpRequested, parseFlags, parseNumberFlag, UsageError } from "../tasks/cli.ts";

const SPEC = {
  "batch-size": { type: "int", min: 1, default: 128 },
  seed: { type: "int" },
  lr: { type: "number", above: 0 },
  mode: { type: "string", choices: ["skip", "fail"], default: "skip" },
  out: { type: "string" },
  quiet: { type: "boolean" },
} as const;
const parse = (args: string[]) => parseFlags(args, SPEC, { help: "HELP", positionals: [0, 2] });

Deno.test("parseFlags() types values, fills defaults and keeps positionals, '-' included", () => {
  const r = parse(["in", "--seed", "-3", "--out", "-", "-", "--mode=fail", "--quiet"]);
  assertEquals(r.positionals, ["in", "-"]);
  assertEquals(r.flags, {
    "batch-size": 128,
    seed: -3,
    lr: undefined,
    mode: "fail",
    out: "-",
    quiet: true,
  });
  assertStrictEquals(parse(["--seed=-7"]).flags.seed, -7);
});

Deno.test("parseFlags() names the flag of a bad number, negative numbers included", () => {
  assertThrows(
    () => parse(["--batch-size", "-1"]),
    UsageError,
    '--batch-size must be an integer >= 1, got "-1"',
  );
  assertThrows(() => parse(["--batch-size", "1.5"]), UsageError, "an integer >= 1");
  assertThrows(() => parse(["--lr", "0"]), UsageError, '--lr must be a number > 0, got "0"');
  assertThrows(() => parse(["--mode", "x"]), UsageError, '--mode must be skip or fail, got "x"');
});

Deno.test("parseFlags() rejects unknown flags, missing values and extra positionals; --help", () => {
  assertThrows(() => parse(["--bogus"]), UsageError, 'Unknown option "--bogus"');
  assertThrows(() => parse(["-q"]), UsageError, 'Unknown option "-q"');
  assertThrows(() => parse(["--seed"]), UsageError, "--seed needs a value");
  assertThrows(() => parse(["--seed", "--quiet"]), UsageError, "--seed needs a value");
  assertThrows(() => parse(["a", "b", "c"]), UsageError, "expected 0 to 2 argument(s), got 3");
  const help = assertThrows(() => parse(["-h"]), HelpRequested);
  assertStrictEquals(help.text, "HELP");
});

Deno.test("parseNumberFlag() states the range rule it checks", () => {
  const f = (raw: string, rule: Parameters<typeof parseNumberFlag>[2]) =>
    parseNumberFlag("x", raw, rule);
  assertStrictEquals(f("0.5", { type: "number", min: 0, below: 1 }), 0.5);
  assertThrows(() => f("1", { type: "number", min: 0, below: 1 }), UsageError, "in [0, 1)");
  assertThrows(() => f("5", { type: "number", above: 0, max: 4 }), UsageError, "in (0, 4]");
  assertThrows(() => f("9", { type: "int", max: 8 }), UsageError, "an integer <= 8");
  assertThrows(
    () => f("100", { type: "int", min: 16, multipleOf: 16 }),
    UsageError,
    "an integer >= 16 and a multiple of 16",
  );
  assertThrows(() => f("", { type: "number" }), UsageError, 'must be a number, got ""');
});

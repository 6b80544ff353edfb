/**
 * The command-line plumbing every task shares: `parseFlags()` (one flag parser on top of
 * `@std/cli` parseArgs: --help, unknown flags, typed and range-checked numbers), `runTask()` (exit
 * status 2 for a usage error, 1 for a failure, 0 otherwise; one line on stderr, no stack trace),
 * stdin/stdout as Web Streams, and a quiet exit when the reader of stdout goes away (`| head`).
 */
import { parseArgs } from "@std/cli/parse-args";

/** A bad command line: the task prints it with "(see --help)" and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** `--help` was given: `runTask()` prints `text` on stdout and exits 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
  constructor(readonly text: string) {
    super("help requested");
  }
}

/** One flag: its type, default and allowed values. Numbers are checked here, once. */
export type Flag =
  | { type: "boolean"; short?: string }
  | { type: "string"; default?: string; short?: string; choices?: readonly string[] }
  | {
    type: "int" | "number";
    default?: number;
    /** Smallest allowed value (inclusive). */
    min?: number;
    /** Largest allowed value (inclusive). */
    max?: number;
    /** Values must be above this (exclusive), for "> 0" rules. */
    above?: number;
    /** Values must be below this (exclusive), for "in [0, 1)" rules. */
    below?: number;
    /** Values must be a multiple of this. */
    multipleOf?: number;
  };

/** The flags of one task, by long name (without the leading `--`). */
export type FlagSpec = Record<string, Flag>;

/** The parsed value of one flag. */
export type FlagValue<F extends Flag> = F extends { type: "boolean" } ? boolean
  : F extends { type: "string"; choices: readonly (infer C)[] }
    ? F extends { default: string } ? C : C | undefined
  : F extends { type: "string" } ? F extends { default: string } ? string : string | undefined
  : F extends { default: number } ? number
  : number | undefined;

/** What `parseFlags()` returns: typed flag values and the positional arguments. */
export interface Parsed<S extends FlagSpec> {
  flags: { [K in keyof S]: FlagValue<S[K]> };
  positionals: string[];
}

export interface ParseOptions {
  /** Printed on stdout for `--help` / `-h` (thrown as `HelpRequested`; `runTask` exits 0). */
  help: string;
  /** How many positional arguments are allowed, [min, max]. @default [0, 0] */
  positionals?: [number, number];
  /** What the positionals are, for the error message, e.g. "<input> <output>". */
  positionalName?: string;
}

/** The text of a range rule: "an integer >= 1", "a number in [0, 1)", "> 0". */
function rule(f: Extract<Flag, { type: "int" | "number" }>): string {
  const what = f.type === "int" ? "an integer" : "a number";
  const lo = f.min !== undefined ? `[${f.min}` : f.above !== undefined ? `(${f.above}` : null;
  const hi = f.max !== undefined ? `${f.max}]` : f.below !== undefined ? `${f.below})` : null;
  let range = "";
  if (lo && hi) range = ` in ${lo}, ${hi}`;
  else if (lo) range = ` ${lo[0] === "[" ? ">=" : ">"} ${lo.slice(1)}`;
  else if (hi) range = ` ${hi.endsWith("]") ? "<=" : "<"} ${hi.slice(0, -1)}`;
  const mult = f.multipleOf ? ` and a multiple of ${f.multipleOf}` : "";
  return `${what}${range}${mult}`;
}

/**
 * Parses one number flag: `--batch-size must be an integer >= 1, got "-1"` when it is not one.
 * @example parseNumberFlag("lr", "0.1", { type: "number", above: 0 }) // 0.1
 */
export function parseNumberFlag(
  name: string,
  raw: string,
  f: Extract<Flag, { type: "int" | "number" }>,
): number {
  const x = Number(raw);
  const ok = raw.trim() !== "" && Number.isFinite(x) &&
    (f.type !== "int" || Number.isSafeInteger(x)) &&
    (f.min === undefined || x >= f.min) && (f.max === undefined || x <= f.max) &&
    (f.above === undefined || x > f.above) && (f.below === undefined || x < f.below) &&
    (!f.multipleOf || x % f.multipleOf === 0);
  if (!ok) throw new UsageError(`--${name} must be ${rule(f)}, got "${raw}"`);
  return x;
}

const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** A value, not a flag: a word, a negative number, or `-` (stdin / stdout). */
const isValue = (arg: string) => !arg.startsWith("-") || arg === "-" || NEGATIVE_NUMBER.test(arg);

/**
 * Joins `--name -1` into `--name=-1` for value flags (parseArgs would read "-1" as a flag), and
 * rejects a value flag with no value (`--seed` last, or followed by another flag).
 */
function joinValues(args: string[], spec: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : null;
    const f = name === null ? undefined : spec[name];
    if (f && f.type !== "boolean") {
      const next = args[i + 1];
      if (next === undefined || !isValue(next)) {
        throw new UsageError(`--${name} needs a value`);
      }
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Parses `args` against `spec` with `@std/cli` parseArgs. `--help`/`-h` throws `HelpRequested`
 * (`runTask` prints `options.help` and exits 0); an unknown flag, a missing value, a bad number or choice, or the wrong number of
 * positionals throws a `UsageError` naming the flag.
 * @example
 * ```ts
 * const { flags } = parseFlags(["--batch-size", "64"], {
 *   "batch-size": { type: "int", min: 1, default: 128 },
 *   quiet: { type: "boolean" },
 * }, { help: "Usage: ..." });
 * flags["batch-size"]; // 64 (a number)
 * ```
 */
export function parseFlags<const S extends FlagSpec>(
  args: string[],
  spec: S,
  options: ParseOptions,
): Parsed<S> {
  const boolean = ["help", ...Object.keys(spec).filter((k) => spec[k].type === "boolean")];
  const string = Object.keys(spec).filter((k) => spec[k].type !== "boolean");
  const alias: Record<string, string> = { h: "help" };
  for (const [k, f] of Object.entries(spec)) {
    if ("short" in f && f.short) alias[f.short] = k;
  }
  const unknown: string[] = [];
  const parsed = parseArgs(joinValues(args, spec), {
    boolean,
    string,
    alias,
    // Positionals are returned as strings; "--" ends the flags.
    "--": true,
    unknown: (arg: string) => {
      if (!isValue(arg)) unknown.push(arg);
      return isValue(arg);
    },
  });
  if (parsed.help) throw new HelpRequested(options.help);
  if (unknown.length) throw new UsageError(`Unknown option "${unknown[0].replace(/=.*/, "")}"`);
  const flags: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(spec)) {
    const raw = parsed[k] as string | boolean | undefined;
    if (f.type === "boolean") flags[k] = raw === true;
    else if (raw === undefined) flags[k] = f.default;
    else if (f.type === "string") {
      if (f.choices && !f.choices.includes(raw as string)) {
        const list = f.choices.length === 2
          ? f.choices.join(" or ")
          : `${f.choices.slice(0, -1).join(", ")} or ${f.choices.at(-1)}`;
        throw new UsageError(`--${k} must be ${list}, got "${raw}"`);
      }
      flags[k] = raw;
    } else flags[k] = parseNumberFlag(k, String(raw), f);
  }
  const positionals = [...parsed._, ...(parsed["--"] ?? [])].map(String);
  const [lo, hi] = options.positionals ?? [0, 0];
  if (positionals.length < lo || positionals.length > hi) {
    const want = options.positionalName ?? `${lo === hi ? lo : `${lo} to ${hi}`} argument(s)`;
    throw new UsageError(
      hi === 0
        ? `unexpected argument "${positionals[0]}"`
        : `expected ${want}, got ${positionals.length} argument(s)`,
    );
  }
  return { flags: flags as Parsed<S>["flags"], positionals };
}

/** Whether `e` means the reader of our stdout went away (`| head`): a normal end for a stage. */
function isBrokenPipe(e: unknown): boolean {
  return e instanceof Deno.errors.BrokenPipe || (e as Error)?.name === "BrokenPipe";
}

/**
 * Runs a task body: `name: message` on stderr and exit 2 for a `UsageError` (with "see --help"),
 * exit 1 for any other error, exit 0 when the body returns, `--help` was given or stdout's reader
 * went away. A body may return another exit status (a number).
 */
export async function runTask(
  name: string,
  body: () => Promise<void | number>,
): Promise<never> {
  let code: void | number;
  try {
    code = await body();
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.log(e.text);
      Deno.exit(0);
    }
    if (isBrokenPipe(e)) Deno.exit(0);
    const msg = e instanceof Error ? e.message : String(e);
    const usage = e instanceof UsageError;
    console.error(`${name}: ${msg.split("\n")[0]}${usage ? " (see --help)" : ""}`);
    // An error may carry its own status (a run folder in use or a conflicting --resume is 2).
    const own = (e as { exitCode?: unknown })?.exitCode;
    Deno.exit(usage ? 2 : typeof own === "number" ? own : 1);
  }
  Deno.exit(code ?? 0);
}

/** Writes a byte stream to stdout; a closed pipe ends quietly. */
export async function toStdout(bytes: ReadableStream<Uint8Array>): Promise<void> {
  try {
    await bytes.pipeTo(Deno.stdout.writable);
  } catch (e) {
    if (isBrokenPipe(e)) Deno.exit(0);
    throw e;
  }
}

/** Stdin as a byte stream; a usage error if it is a terminal (a stage needs piped input). */
export function stdinOrUsage(task: string): ReadableStream<Uint8Array> {
  if (Deno.stdin.isTerminal()) {
    throw new UsageError(`${task} reads records from stdin; pipe something in`);
  }
  return Deno.stdin.readable;
}

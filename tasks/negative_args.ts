/**
 * Lets a flag take a negative number as its value (`--batch-size -1`, `--seed -3`): both
 * node:util's and @std/cli's parseArgs read `-1` as an option, which gave "argument is ambiguous"
 * (or an empty value) instead of the flag's own range message. `--name -N` becomes `--name=-N`,
 * so the task's validation names the flag and the value (docs/reliability.md).
 */

const NEGATIVE = /^-(\d|\.\d)/;

/**
 * Rewrites `--name <negative number>` to `--name=<negative number>`. With `options` (the
 * parseArgs options object), only flags declared `type: "string"` are rewritten.
 */
export function allowNegativeValues(
  args: readonly string[],
  options?: Record<string, { type: string }>,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : undefined;
    const next = args[i + 1];
    if (
      name && next !== undefined && NEGATIVE.test(next) &&
      (!options || options[name]?.type === "string")
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Safe echoes of list text in error messages: a line is shown escaped (control characters and
 * invalid UTF-8 as `\uXXXX`) and cut short, and a binary file is refused before any line is
 * echoed (docs/reliability.md), so an error never dumps raw bytes on the terminal.
 */

/** `s` as a short, printable, quoted string: at most `max` characters, then "...". */
export function quoteLine(s: string, max = 80): string {
  const cut = s.length > max ? s.slice(0, max) : s;
  // JSON escapes quotes, backslashes and C0 controls; escape the rest that a terminal acts on.
  const q = JSON.stringify(cut).replace(
    /[\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ufffd]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return s.length > max ? `${q.slice(0, -1)}..."` : q;
}

/**
 * Throws when `text` (a file read as UTF-8) looks binary: a NUL byte or invalid UTF-8 (U+FFFD)
 * in its first 64 KB. `name` is the file, `what` what it was expected to be.
 */
export function assertTextFile(text: string, name: string, what = "a clean list"): void {
  const head = text.slice(0, 65536);
  const nul = head.indexOf("\0");
  const bad = head.indexOf("\ufffd");
  const at = nul < 0 ? bad : bad < 0 ? nul : Math.min(nul, bad);
  if (at < 0) return;
  const line = head.slice(0, at).split("\n").length;
  throw new SyntaxError(
    `"${name}" is not ${what}, an image folder or a .rec: it holds binary data ` +
      `(${at === nul ? "a NUL byte" : "invalid UTF-8"} on line ${line})`,
  );
}

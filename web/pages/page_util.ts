/** Small DOM helpers the pages share. */

/** The element matching `selector`; throws naming it when the page lacks it. */
export function $<T extends HTMLElement = HTMLElement>(
  selector: string,
  root: ParentNode = document,
): T {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`The page has no ${selector}`);
  return el;
}

/** Shows `text` in the message box `selector` with a kind ("error", "note", "ok"); "" clears. */
export function showMessage(selector: string | HTMLElement, kind: string, text: string): void {
  const el = typeof selector === "string" ? $(selector) : selector;
  el.className = `message ${kind}`;
  el.textContent = text;
}

/** GETs JSON from the server; an error names the path and the server's message. */
export async function apiJson<T>(path: string): Promise<T> {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.text()).trim()}`);
  return await r.json() as T;
}

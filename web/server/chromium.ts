/**
 * Headless chromium for the browser tests and `deno task bench web`: Debian's `chromium` (or
 * $CHROMIUM_PATH) through puppeteer-core, WebGL on SwiftShader (the CPU) so pages that use it
 * render on a machine without a GPU. Stop it with `stopChromium` (close, then kill by pid).
 */
import puppeteer, { type Browser } from "puppeteer-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The chromium to use ($CHROMIUM_PATH first), or null. */
export function findChromium(): string | null {
  const env = Deno.env.get("CHROMIUM_PATH");
  for (const p of env ? [env] : CANDIDATES) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // next
    }
  }
  return null;
}

/** Starts chromium headless; throws a clear error when there is none. */
export async function launchChromium(): Promise<Browser> {
  const path = findChromium();
  if (!path) {
    throw new Error("No chromium found: apt-get install chromium, or set CHROMIUM_PATH");
  }
  return await puppeteer.launch({
    executablePath: path,
    headless: true,
    args: [
      "--no-sandbox",
      "--use-angle=swiftshader",
      "--enable-unsafe-swiftshader",
      "--ignore-gpu-blocklist",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
    ],
  });
}

/** Closes chromium, then kills its process by pid if it is still there. */
export async function stopChromium(browser: Browser | undefined): Promise<void> {
  if (!browser) return;
  const pid = browser.process()?.pid;
  await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]).catch(() => {});
  if (pid) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

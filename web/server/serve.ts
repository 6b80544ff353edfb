/**
 * Starts the web app (`deno task serve`): bundles the page scripts into a temp folder, serves the
 * runs folder read-only on loopback (or `host`), and stops cleanly (server closed, temp removed).
 * @example
 * ```ts
 * const app = await startServer({ runs: "runs", port: 0 });
 * console.log(app.url); // http://127.0.0.1:<port>/
 * await app.close();
 * ```
 */
import { bundlePages } from "./bundle.ts";
import { type AppOptions, makeHandler } from "./app.ts";

export interface ServeOptions {
  /** The runs folder, served read-only. @default "runs" */
  runs?: string;
  /** TCP port; 0 picks a free one. @default {8000} */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" (this machine only) */
  host?: string;
  /**
   * Send checkpoints to download links when `host` is not loopback (on loopback they always are).
   * @default {false}
   */
  allowDownload?: boolean;
  /** Poll interval of the live curves, ms. @default {250} */
  pollMs?: number;
  /**
   * A folder of page scripts bundled already (kept on close); the server-only tests need none.
   * @default a temp folder bundled at start and removed on close
   */
  bundleDir?: string;
}

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions = {}): Promise<RunningApp> {
  const runs = options.runs ?? "runs";
  const port = options.port ?? 8000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer in 0..65535, got ${port}`);
  }
  let runsReal: string;
  try {
    runsReal = await Deno.realPath(runs);
    if (!(await Deno.stat(runsReal)).isDirectory) throw new Error("not a folder");
  } catch (e) {
    const hint = e instanceof Deno.errors.NotFound ? " (deno task train makes runs/)" : "";
    throw new Error(
      `Cannot serve --runs "${runs}": ${(e as Error).message.split(":")[0]}${hint}`,
    );
  }
  const owned = !options.bundleDir;
  // Real path: /js/ files are resolved inside it (a temp folder behind a symlink would be a 403).
  const bundleDir = await Deno.realPath(
    options.bundleDir ?? await Deno.makeTempDir({ prefix: "arcstream-web-" }),
  );
  if (owned) {
    try {
      await bundlePages(bundleDir);
    } catch (e) {
      await Deno.remove(bundleDir, { recursive: true }).catch(() => {});
      throw e;
    }
  }
  const hostname = options.host ?? "127.0.0.1";
  const stopping = new AbortController();
  const app: AppOptions = {
    runsReal,
    bundleDir,
    pollMs: options.pollMs,
    signal: stopping.signal,
    host: hostname,
    allowDownload: options.allowDownload,
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ port, hostname, onListen: () => {} }, makeHandler(app));
  } catch (e) {
    if (owned) await Deno.remove(bundleDir, { recursive: true }).catch(() => {});
    const why = (e as Error).message.split("\n")[0];
    throw new Error(`Cannot listen on ${hostname}:${port}: ${why}`);
  }
  app.port = server.addr.port; // known once listening (port 0 picks one); Host must name it
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${shown}:${server.addr.port}/`,
    async close() {
      stopping.abort(); // ends the live-curve streams, which would keep shutdown() waiting
      await server.shutdown();
      if (owned) await Deno.remove(bundleDir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The request handler of `deno task serve`: the three pages, their bundled scripts, a JSON API
 * over the runs folder, live curves as server-sent events, and the folder's files, read-only.
 *
 * Files: only GET/HEAD, only under the runs folder (web/server/safe_path.ts refuses `..`, encoded
 * or not, absolute paths and symlinks out: 403), unknown runs and files 404. Checkpoint bytes
 * (`*.arcs`, anything under a `checkpoints/` folder) are sent only to a download link
 * (`?download=1`, as an attachment), never shown inline; on a non-loopback `--host` not at all
 * unless `--allow-download` is given.
 *
 * Host: a request whose `Host` header is not a loopback name (127.0.0.1, localhost, [::1]) or the
 * `--host` value (any IP address when it is 0.0.0.0 or ::), with the server's port, is refused
 * (403): a web page whose name was rebound to 127.0.0.1 (DNS rebinding) would otherwise read the
 * runs folder through this server.
 */
import { extname, join, relative, sep as SEPARATOR } from "node:path";
import { fileURLToPath } from "node:url";
import { WEIGHTS_DIR } from "../../pipeline/align/mtcnn/nets.ts";
import { followRunLog } from "./follow_log.ts";
import { isRunFolder, listRuns, runInfo } from "./runs.ts";
import {
  checkRelativePath,
  MissingPathError,
  RefusedPathError,
  resolveInside,
} from "./safe_path.ts";
import { PAGES_DIR } from "./bundle.ts";

/** TF.js's wasm binaries, which the try-it page's wasm backend fetches from /js/wasm/. */
const WASM_DIR = fileURLToPath(
  new URL("../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url),
);

const LOOPBACK = ["127.0.0.1", "localhost", "[::1]"];

export interface AppOptions {
  /** Real path of the runs folder. */
  runsReal: string;
  /** Folder of the bundled page scripts. */
  bundleDir: string;
  /** Poll interval of the live curves, ms. */
  pollMs?: number;
  /** Aborted when the server stops: ends the open event streams. */
  signal?: AbortSignal;
  /** The interface listened on (`--host`): its name is accepted in `Host`. @default "127.0.0.1" */
  host?: string;
  /** The port listened on; `Host` must name it (no port: 80). @default any port */
  port?: number;
  /** Send checkpoints to download links on a non-loopback `host` too. @default {false} */
  allowDownload?: boolean;
}

/** `host` as it appears in a `Host` header (IPv6 in brackets, lower case). */
const hostName = (host: string) => (host.includes(":") ? `[${host}]` : host).toLowerCase();

/** True when `host` (a `--host` value) is this machine only. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.includes(hostName(host));
}

/** True when the request's `Host` header names this server (see the file's comment). */
function hostAllowed(o: AppOptions, header: string | null): boolean {
  if (!header) return false;
  let url: URL;
  try {
    url = new URL(`http://${header}`);
  } catch {
    return false;
  }
  if (url.host !== header.toLowerCase() && url.host + ":80" !== header.toLowerCase()) return false;
  if (o.port !== undefined && Number(url.port || 80) !== o.port) return false;
  if ([...LOOPBACK, hostName(o.host ?? "127.0.0.1")].includes(url.hostname)) return true;
  // Listening on every interface, the server is opened by one of this machine's addresses: an IP
  // literal cannot be rebound to another machine, so any is accepted (a name still is not).
  const wildcard = ["0.0.0.0", "[::]"].includes(hostName(o.host ?? ""));
  return wildcard && (/^\d+\.\d+\.\d+\.\d+$/.test(url.hostname) || url.hostname.startsWith("["));
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".jsonl": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".bin": "application/octet-stream",
  ".wasm": "application/wasm",
};

const PAGES: Record<string, string> = {
  "/": "runs.html",
  "/report": "report.html",
  "/try": "try_it.html",
  "/style.css": "style.css",
};

const text = (status: number, body: string) =>
  new Response(body + "\n", { status, headers: { "content-type": "text/plain; charset=utf-8" } });
const json = (body: unknown) =>
  new Response(JSON.stringify(body), { headers: { "content-type": TYPES[".json"] } });

async function sendFile(path: string, headers: Record<string, string> = {}): Promise<Response> {
  const file = await Deno.open(path);
  const type = TYPES[extname(path)] ?? "application/octet-stream";
  return new Response(file.readable, {
    headers: { "content-type": type, "cache-control": "no-store", ...headers },
  });
}

/** A path under the runs folder, as a response (file, 403 or 404). */
async function runsFile(o: AppOptions, rel: string, download: boolean): Promise<Response> {
  const real = await resolveInside(o.runsReal, rel);
  const stat = await Deno.stat(real);
  if (!stat.isFile) throw new MissingPathError(`Not a file: "${rel}"`);
  // Judged on the request path and on the real one: a symlink to a checkpoints/ folder is one too.
  const realRel = relative(o.runsReal, real).split(SEPARATOR);
  const checkpoint = real.endsWith(".arcs") || rel.split("/").includes("checkpoints") ||
    realRel.includes("checkpoints");
  if (checkpoint && !download) {
    return text(403, `"${rel}" is a checkpoint: its bytes are sent only to a download link`);
  }
  if (checkpoint && !o.allowDownload && !isLoopbackHost(o.host ?? "127.0.0.1")) {
    return text(
      403,
      `"${rel}" is a checkpoint: downloads off a non-loopback --host need --allow-download`,
    );
  }
  const name = rel.split("/").pop()!.replace(/"/g, "");
  return await sendFile(
    real,
    download ? { "content-disposition": `attachment; filename="${name}"` } : {},
  );
}

/** A run folder's real path from its name (one plain name), or an error. */
async function runDir(o: AppOptions, name: string): Promise<string> {
  checkRelativePath(name);
  if (name.includes("/")) throw new RefusedPathError(`Refused run name "${name}"`);
  const dir = await resolveInside(o.runsReal, name);
  if (!(await isRunFolder(dir))) throw new MissingPathError(`No run "${name}"`);
  return dir;
}

async function api(o: AppOptions, url: URL, parts: string[]): Promise<Response> {
  if (parts[0] === "runs" && parts.length === 1) return json(await listRuns(o.runsReal));
  if (parts[0] === "runs" && parts.length === 2) {
    return json(await runInfo(await runDir(o, parts[1]), parts[1]));
  }
  if (parts[0] === "runs" && parts.length === 3 && parts[2] === "events") {
    const dir = await runDir(o, parts[1]);
    return new Response(
      followRunLog(dir, { pollMs: o.pollMs, title: parts[1], signal: o.signal }),
      {
        headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
      },
    );
  }
  if (parts[0] === "report" && parts.length === 1) {
    const rel = url.searchParams.get("dir") ?? "";
    const dir = await resolveInside(o.runsReal, rel);
    const read = async (name: string) => {
      try {
        return JSON.parse(await Deno.readTextFile(join(dir, name)));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return null;
        throw e;
      }
    };
    const report = await read("report.json");
    if (!report) throw new MissingPathError(`No eval-lfw report in "${rel}"`);
    const { roc: _r, gridRoc: _g, ...rest } = report;
    return json({ dir: rel, report: rest, review: await read("review.json") });
  }
  throw new MissingPathError(`Unknown API path "${url.pathname}"`);
}

/** The handler `Deno.serve` runs. */
export function makeHandler(o: AppOptions): (req: Request) => Promise<Response> {
  return async (req) => {
    if (!hostAllowed(o, req.headers.get("host"))) {
      return text(403, `Refused Host "${req.headers.get("host") ?? ""}": not this server's name`);
    }
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "read-only server");
    const url = new URL(req.url);
    try {
      const raw = url.pathname;
      if (PAGES[raw]) return await sendFile(fileURLToPath(new URL(PAGES[raw], PAGES_DIR)));
      // Names are decoded here, so an encoded `%2e%2e` or `%2f` is judged as what it means.
      const decode = (s: string) => raw.slice(s.length).split("/").map(decodeURIComponent);
      if (raw.startsWith("/js/weights/")) {
        const [name] = decode("/js/weights/");
        return await sendFile(
          await resolveInside(await Deno.realPath(fileURLToPath(WEIGHTS_DIR)), name),
        );
      }
      if (raw.startsWith("/js/wasm/")) {
        const [name] = decode("/js/wasm/");
        return await sendFile(await resolveInside(await Deno.realPath(WASM_DIR), name));
      }
      if (raw.startsWith("/js/")) {
        return await sendFile(await resolveInside(o.bundleDir, decode("/js/").join("/")));
      }
      if (raw.startsWith("/api/")) return await api(o, url, decode("/api/"));
      if (raw.startsWith("/files/")) {
        return await runsFile(o, decode("/files/").join("/"), url.searchParams.has("download"));
      }
      return text(404, `Not found: ${raw}`);
    } catch (e) {
      if (e instanceof RefusedPathError) return text(403, e.message);
      if (e instanceof MissingPathError || e instanceof Deno.errors.NotFound) {
        return text(404, (e as Error).message);
      }
      if (e instanceof URIError) return text(400, `Bad path encoding: ${url.pathname}`);
      return text(500, (e as Error).message);
    }
  };
}

/**
 * `deno task serve [--runs DIR] [--port N] [--host H]`: the local web app (web/): runs with live
 * curves, eval-lfw reports with the worst pairs, and a try-it page that runs arcstream's MTCNN
 * aligner and a run's exported model in the browser with TF.js. Runs until Ctrl-C.
 */
import { parseFlags, runTask } from "./cli.ts";

const HELP = `Usage: deno task serve [--runs DIR] [--port N] [--host H]

A local web app over a runs folder (read-only; nothing is uploaded anywhere):
  /        runs: config, state (training / finished / failed / locked), live curves
  /report  eval-lfw reports found in run folders (deno task eval-lfw ... --out runs/<run>/eval):
           folds, ROC, threshold, the worst false accepts / rejects with their aligned faces
  /try     two photos (or a webcam frame) -> MTCNN -> aligned faces -> a run's export ->
           cosine and same / different at the run's threshold, all in the browser (TF.js)
  --runs DIR   the runs folder (default runs)
  --port N     TCP port (default 8000; 0 picks a free one)
  --host H     interface to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for all);
               requests must name it (or 127.0.0.1, localhost, [::1]) in their Host header
  --allow-download  send checkpoints to download links on a non-loopback --host too (default off)
  -h, --help   this help

Example:
  deno task train && deno task serve     # then open http://127.0.0.1:8000/`;

await runTask("serve", async () => {
  const { flags } = parseFlags(Deno.args, {
    runs: { type: "string", default: "runs" },
    port: { type: "int", min: 0, max: 65535, default: 8000 },
    host: { type: "string", default: "127.0.0.1" },
    "allow-download": { type: "boolean" },
  }, { help: HELP });
  const { startServer } = await import("../web/server/serve.ts");
  const app = await startServer({
    runs: flags.runs,
    port: flags.port,
    host: flags.host,
    allowDownload: flags["allow-download"],
  });
  console.log(`serve: ${app.url} (runs folder "${flags.runs}"; Ctrl-C stops)`);
  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stop.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  await app.close();
  return 0;
});

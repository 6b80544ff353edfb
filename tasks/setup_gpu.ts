/**
 * `deno task setup-gpu [--cpu-only] [--dry-run]`: installs @tensorflow/tfjs-node-gpu 4.22.0 (CUDA)
 * or, with --cpu-only, @tensorflow/tfjs-node 4.22.0 into this project's node_modules, so that
 * `initBackend` (model/backend/backend.ts) finds and prefers the native "tensorflow" backend.
 *
 * It runs `deno install --allow-scripts=npm:PKG --entrypoint FILE` on a one-line file importing
 * the package: Deno fetches it into node_modules (nodeModulesDir "auto") and runs its install
 * script, which downloads libtensorflow (and the prebuilt addon) from storage.googleapis.com.
 * Without that download the package is useless, so the task checks for the native binding
 * afterwards and fails with a clear message when it is missing.
 */
import { parseFlags, runTask } from "./cli.ts";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const VERSION = "4.22.0";

const HELP = `Usage: deno task setup-gpu [--cpu-only] [--dry-run]

Installs the native TensorFlow backend for TF.js into node_modules:
  (default)    @tensorflow/tfjs-node-gpu@${VERSION}: libtensorflow with CUDA (needs an NVIDIA
               driver with CUDA 11.2 / cuDNN 8.1 libraries on the library path at run time)
  --cpu-only   @tensorflow/tfjs-node@${VERSION}: libtensorflow for the CPU
  --dry-run    print the install command and exit

The package's install script downloads libtensorflow (~400 MB for the GPU build) from
storage.googleapis.com, so this machine must reach it. Afterwards every arcstream task picks
the "tensorflow" backend automatically (check with: deno task gpu-probe); force another with
--backend wasm or ARCSTREAM_BACKEND=wasm. To undo: delete node_modules and run deno install.

Deno notes: the package is installed with --allow-scripts for that package only; deno.lock
gains its entries (keep them out of commits if CI must not install it).`;

export async function main(args: string[]): Promise<number> {
  const { flags: values } = parseFlags(args, {
    "cpu-only": { type: "boolean" },
    "dry-run": { type: "boolean" },
  }, { help: HELP });
  const pkg = values["cpu-only"] ? "@tensorflow/tfjs-node" : "@tensorflow/tfjs-node-gpu";
  const spec = `npm:${pkg}@${VERSION}`;
  const root = fileURLToPath(new URL("..", import.meta.url));
  // The entry file lives in the project so that deno.json (nodeModulesDir "auto") applies.
  const entry = join(root, `.setup_gpu_${Deno.pid}.ts`);
  const cmd = ["install", `--allow-scripts=${spec}`, "--entrypoint", entry];
  if (values["dry-run"]) {
    console.log(`echo 'import "${spec}";' > ${entry} && deno ${cmd.join(" ")}`);
    return 0;
  }
  await Deno.writeTextFile(entry, `import "${spec}";\n`);
  let code: number;
  try {
    console.error(`setup-gpu: deno ${cmd.join(" ")}`);
    const child = new Deno.Command(Deno.execPath(), {
      args: cmd,
      cwd: root,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    code = (await child.status).code;
  } finally {
    await Deno.remove(entry).catch(() => {});
  }
  const { probeTensorflow } = await import("../model/backend/backend_probe.ts");
  const probe = probeTensorflow();
  if (code !== 0 && probe.packageName !== pkg) {
    console.error(
      `setup-gpu: "deno install" of ${spec} failed (exit ${code}); is the npm registry reachable?`,
    );
    return 1;
  }
  if (!probe.loadable || probe.packageName !== pkg) {
    console.error(`setup-gpu: ${probe.reason}`);
    return 1;
  }
  console.log(JSON.stringify({ installed: pkg, version: probe.version, where: probe.reason }));
  return 0;
}

if (import.meta.main) await runTask("setup-gpu", () => main(Deno.args));

#!/usr/bin/env bash
# Prepares the device check for a lent GPU machine that has no network (run here, then
# .ci/gpu_check.sh there with `.gpu` and `.gl` carried; docs/gpu.md). Packs, into git-ignored
# folders, about 40 MiB together (the device tool carries at most 64 MiB):
#   .gpu/gpu_check.js              scripts/gpu_check.ts bundled with its npm imports (no node_modules)
#   .gpu/webgpu_*_test.js          tests/webgpu_kernels_test.ts and webgpu_bn_sum_test.ts, likewise
#   .gpu/deno.xz                   this machine's Deno binary, xz-compressed (~31 MB)
#   .gl/*.deb                      the Vulkan/EGL loaders (libvulkan1 ...) Deno's WebGPU needs
set -euo pipefail
cd "$(dirname "$0")/.."
deno() { if command -v deno >/dev/null; then command deno "$@"; else npx -y deno@2 "$@"; fi; }
mkdir -p .gpu
deno bundle --platform deno -o .gpu/gpu_check.js scripts/gpu_check.ts
for t in webgpu_kernels_test webgpu_bn_sum_test; do
  deno bundle --platform deno -o ".gpu/$t.js" "tests/$t.ts"
done
bin=$(deno eval 'console.log(Deno.execPath())')
[ -f .gpu/deno.xz ] && [ .gpu/deno.xz -nt "$bin" ] || xz -T2 -6 -c "$bin" > .gpu/deno.xz
if [ ! -d .gl ]; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -shc .gpu .gl

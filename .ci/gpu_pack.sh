#!/usr/bin/env bash
# Prepares a GPU check for a lent machine that has no network (run here, then run .ci/gpu_check.sh
# there with `.gpu` and `.gl` carried). Packs, into git-ignored folders, under 64 MiB together:
#   .gpu/gpu_probe.js  tasks/gpu_probe.ts bundled with its npm imports (no node_modules needed)
#   .gpu/deno.xz       this machine's Deno binary, xz-compressed (~31 MB)
#   .gl/*.deb          the Vulkan/EGL loaders, which Deno's WebGPU (wgpu) needs to see an NVIDIA GPU
set -euo pipefail
cd "$(dirname "$0")/.."
deno() { if command -v deno >/dev/null; then command deno "$@"; else npx -y deno@2 "$@"; fi; }
mkdir -p .gpu
deno bundle --platform deno -o .gpu/gpu_probe.js tasks/gpu_probe.ts
bin=$(deno eval 'console.log(Deno.execPath())')
xz -T2 -6 -c "$bin" > .gpu/deno.xz
if [ ! -d .gl ]; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .gpu .gl

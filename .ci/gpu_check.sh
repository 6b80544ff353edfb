#!/usr/bin/env bash
# Runs on a lent GPU machine (no network), after .ci/gpu_pack.sh here; carry `.gpu` and `.gl`.
# Writes $OUT/gpu_probe.json: Deno's WebGPU adapter (vendor, fallback flag, limits) and a conv
# forward + backward timing per backend that starts. Usage (device tool):
#   run(command="bash .ci/gpu_check.sh", carry=[".gpu", ".gl"], timeout_s=300)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
# Where the driver's ICD files live on NVIDIA container hosts.
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/nvidia_smi.csv"
xz -dc .gpu/deno.xz > /tmp/deno && chmod +x /tmp/deno
/tmp/deno --version
/tmp/deno run -A .gpu/gpu_probe.js --backends webgpu --batch 8 --timeout 120 | tee "$out/gpu_probe.json"

#!/usr/bin/env bash
# The device check (docs/gpu.md), on a lent NVIDIA machine without network, after
# .ci/gpu_pack.sh here. With the device tool:
#   run(command="bash .ci/gpu_check.sh", carry=[".gpu", ".gl"], timeout_s=540)
# Writes under $OUT: vulkan.txt (loader, ICD files, nvidia-smi), kernel_tests.txt (the WGSL
# kernels against the cpu backend, on the GPU), gpu_check.json (adapter with limits and
# shader-f16, kernel timings against tfjs's own, bench train r50 batch 64 / 128 and mbf batch 128
# with peak bytes, embedding images/s) and gpu_check.log. Under 8 minutes in all.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
for f in .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
ldconfig
# Where the driver's ICD file lives on NVIDIA container hosts.
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
  /etc/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$icd" ] && { export VK_DRIVER_FILES=$icd; break; }
done
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
{
  echo "loader: $(ldconfig -p | grep -m1 'libvulkan.so.1' || echo 'MISSING (no libvulkan.so.1: carry .gl)')"
  echo "VK_DRIVER_FILES: ${VK_DRIVER_FILES:-unset (no nvidia_icd.json found: no NVIDIA ICD)}"
  echo "ICD files:"; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1
  echo "libGLX_nvidia / libnvidia: $(ldconfig -p | grep -c 'libGLX_nvidia\|libnvidia-glcore') entries"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
} > "$out/vulkan.txt"
cat "$out/vulkan.txt"
xz -dc .gpu/deno.xz > /tmp/deno && chmod +x /tmp/deno
/tmp/deno --version | head -1
CI=1 timeout 150 /tmp/deno test -A --no-config .gpu/webgpu_kernels_test.js .gpu/webgpu_bn_sum_test.js \
  > "$out/kernel_tests.txt" 2>&1
echo "kernel tests: exit $? ($(grep -Eo '[0-9]+ passed \| [0-9]+ failed' "$out/kernel_tests.txt" | tail -1))"
timeout 300 /tmp/deno run -A --no-config .gpu/gpu_check.js --out "$out/gpu_check.json" \
  2>&1 | tee "$out/gpu_check.log"
rc=${PIPESTATUS[0]}
echo "gpu_check: exit $rc"
exit "$rc"

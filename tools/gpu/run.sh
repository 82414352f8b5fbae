#!/usr/bin/env bash
# Runs the GPU checks from the bundle tools/gpu/pack.sh made: unpacks it into a temporary folder,
# puts its deno and Vulkan loader first, links its node_modules beside deno.json, then runs the
# engine tests (CPU, WebGPU and, with tools/gpu/pack_cuda.sh's parts, CUDA against the reference,
# placement, float16, states kept on the GPU, transformers parity) and the GPU benchmark. Logs and results go to $OUT (default ./gpu-run).
#
#   bash tools/gpu/run.sh           # on the GPU machine: mamba-2.8b shape, transformers on cuda
#   bash tools/gpu/run.sh --smoke   # anywhere with a Vulkan device (lavapipe): a tiny shape
#
# SOUP_GPU_BUNDLE (default dist/gpu-bundle.tar.xz), SOUP_GPU_PYTHON (default python3: a Python
# with torch and transformers for the benchmark's transformers column, skipped when it has none).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
smoke=0
[ "${1:-}" = "--smoke" ] && smoke=1
out=${OUT:-$root/gpu-run}
mkdir -p "$out"
bundle=${SOUP_GPU_BUNDLE:-$root/dist/gpu-bundle.tar.xz}
[ -f "$bundle" ] || { echo "run.sh: no bundle at $bundle: run tools/gpu/pack.sh first" >&2; exit 1; }
if [ -e node_modules ] || [ -L node_modules ]; then
  echo "run.sh: $root/node_modules exists: refusing to replace it (move it aside first)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xJf "$bundle" || { echo "run.sh: cannot unpack $bundle" >&2; exit 1; }
ln -s "$work/node_modules" node_modules
trap 'rm -f "$root/node_modules"; rm -rf "$work"' EXIT
export PATH="$work/bin:$PATH"
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export DENO_DIR="$work/deno-dir" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 HF_HUB_OFFLINE=1
status=0

{
  date -u
  deno --version
  if command -v nvidia-smi >/dev/null; then nvidia-smi 2>&1; else echo "no nvidia-smi"; fi
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  deno eval --no-check --cached-only 'import { webgpuAdapter } from "./lib/onnx/adapter.ts";
    console.log("WebGPU adapter:", JSON.stringify(await webgpuAdapter()));'
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

python=${SOUP_GPU_PYTHON:-python3}
cuda_parts=${SOUP_GPU_CUDA:-$root/dist/gpu-cuda}
if ls "$cuda_parts"/part-* >/dev/null 2>&1; then
  echo "== the CUDA provider (from tools/gpu/pack_cuda.sh's parts), set up against $python's CUDA"
  bind=$(deno eval --no-check --cached-only \
    'import { bindingDir } from "./lib/onnx/cuda.ts"; console.log(bindingDir())')
  cat "$cuda_parts"/part-* | xz -d | tar -C "$bind" -xf - || status=1
  deno run -A --no-check --cached-only cli/setup.ts cuda --python "$python" 2>&1 |
    tee "$out/cuda-setup.log"
  deno run -A --no-check --cached-only cli/soup.ts doctor 2>&1 | tee -a "$out/cuda-setup.log"
else
  echo "(no CUDA provider parts at $cuda_parts: tools/gpu/pack_cuda.sh makes them; CUDA not run)"
fi

echo "== engine tests (CPU, WebGPU, CUDA where set up, float16, placement)"
deno test -A --no-check --cached-only lib/engine/onnx_engine_test.ts tests/webgpu_test.ts \
  tests/cuda_test.ts 2>&1 |
  tee "$out/tests.log" | grep -E '^(ok|FAILED) \||FAILED|Warning' | tail -20
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "== transformers parity fixtures on every engine"
deno test -A --no-check --cached-only tests/hf_parity_test.ts --filter '/parity/' 2>&1 |
  tee "$out/parity.log" | tail -20
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== benchmark"
py=()
if "$python" -c "import torch, transformers" 2>/dev/null; then
  py=(--python "$python")
  [ "$smoke" -eq 1 ] && py+=(--torch-device cpu)
else
  echo "($python has no torch and transformers: no transformers column)"
fi
if [ "$smoke" -eq 1 ]; then
  args=(--shape tiny --shapes 1x16,2x16 --cpu-shapes 1x16 --repeat 1)
else
  args=(--shape 2.8b --shapes 1x256,8x256,32x256 --cpu-shapes 1x256,8x256 --repeat 3)
fi
deno run -A --no-check --cached-only bench/main.ts gpu "${args[@]}" "${py[@]}" --out "$out/gpu.json" 2>&1 |
  tee "$out/bench.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
if [ "$smoke" -eq 0 ] && grep -q "can be tried" "$out/cuda-setup.log" 2>/dev/null; then
  echo "== one figure of the paper preset on a random mamba-2.8b-shaped checkpoint, planned then run"
  ck=$(mktemp -d)/mamba-2.8b-random
  deno run -A --no-check --cached-only cli/soup.ts checkpoint --out "$ck" --layers 64 --hidden 2560 \
    --state 16 --conv 4 --rank 160 --vocab 50280 --shard-bytes 2147483648 2>&1 | tail -1
  deno run -A --no-check --cached-only cli/reproduce.ts retrieval --preset paper --model "$ck" \
    --device cuda --plan --json --gpu h200 >"$out/plan-retrieval.json" 2>"$out/plan-retrieval.log" ||
    status=1
  start=$SECONDS
  SOUP_CACHE=$(mktemp -d) deno run -A --no-check --cached-only cli/reproduce.ts retrieval \
    --preset paper --model "$ck" --device cuda --results "$(mktemp -d)" 2>&1 |
    tail -3 | tee "$out/run-retrieval.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  echo "retrieval, paper preset, cuda: $((SECONDS - start)) s (the plan: see plan-retrieval.json)" |
    tee -a "$out/run-retrieval.log"
  rm -rf "$(dirname "$ck")"
fi
echo "run.sh: done (status $status); logs in $out"
exit $status

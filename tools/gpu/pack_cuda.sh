#!/usr/bin/env bash
# Packs onnxruntime-node's CUDA provider for the GPU machine, which has no network (so no pip
# download there) and takes at most 64 MiB per call: the two provider libraries that
# `deno task setup cuda` installed beside the binding (run it first), xz-compressed and split into
# parts of 60 MiB, dist/gpu-cuda/part-00, part-01, ... Carry one part per call while the machine
# stays warm (its files stay between calls); tools/gpu/run.sh joins them, installs the provider
# and runs `setup cuda` there against the CUDA 13 libraries of the machine's PyTorch.
#
#   bash tools/gpu/pack_cuda.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bind=$(npx -y deno@2.9.6 eval 'import { bindingDir } from "./lib/onnx/cuda.ts"; console.log(bindingDir())')
for f in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so; do
  if [ ! -f "$bind/$f" ]; then
    echo "pack_cuda.sh: $bind/$f is missing: run \"deno task setup cuda\" first" >&2
    exit 1
  fi
done
out=dist/gpu-cuda
mkdir -p "$out"
rm -f "$out"/part-*
tar -C "$bind" -cf - libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so |
  xz -T2 -9 | split -b 60M -d -a 2 - "$out/part-"
ls -l "$out"

#!/usr/bin/env bash
# Packs what the GPU machine needs to run this project there (it has Python, torch and
# transformers, but no Node.js or Deno, and no network): the deno binary; node_modules without
# the other platforms' onnxruntime binaries (Deno wants every package of deno.lock there, so
# nothing else is left out); and Debian's Vulkan loader, libvulkan.so.1 (the NVIDIA driver there
# brings its own Vulkan driver). Writes dist/gpu-bundle.tar.xz (or the path given, about 50 MB),
# which tools/gpu/run.sh unpacks and runs offline. The CUDA provider (272 MB) is not in it:
# tools/gpu/pack_cuda.sh packs it apart, in parts that fit one device call each.
#
#   bash tools/gpu/pack.sh [OUT.tar.xz]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=${1:-$root/dist/gpu-bundle.tar.xz}
mkdir -p "$(dirname "$out")"

deno_bin=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')
echo "deno: $deno_bin"
# Fill node_modules with everything the GPU run imports.
"$deno_bin" cache --quiet bench/main.ts lib/engine/onnx_engine_test.ts tests/webgpu_test.ts \
  tests/hf_parity_test.ts

vk=$(readlink -f /usr/lib/x86_64-linux-gnu/libvulkan.so.1 2>/dev/null || true)
if [ -z "$vk" ] || [ ! -f "$vk" ]; then
  echo "pack.sh: /usr/lib/x86_64-linux-gnu/libvulkan.so.1 is missing: apt-get install libvulkan1" >&2
  exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
cp "$deno_bin" "$stage/bin/deno"
cp "$vk" "$stage/lib/libvulkan.so.1"
ort='node_modules/.deno/onnxruntime-node@*/node_modules/onnxruntime-node/bin/napi-v6'
tar -C "$root" -cf - \
  --exclude="$ort/darwin" --exclude="$ort/win32" --exclude="$ort/linux/arm64" \
  --exclude='libonnxruntime_providers_*.so' --exclude=soup-cuda.json \
  node_modules | tar -C "$stage" -xf -
echo "packing $(du -sh "$stage" | cut -f1) ..."
tar -C "$stage" -cf - . | xz -T2 -6 >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out ($(du -h "$out" | cut -f1))"

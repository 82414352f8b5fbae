#!/usr/bin/env bash
# Puts what the trainer reads into gpu-run/organism/ (ignored by git), so that a run on the GPU
# machine of the `device` tool can carry it: the mirror's tokenizer, task files and news (the GPU
# machine has no ../shared beside the project), and the npm corpora's tarballs (it has no npm).
# There, its python3 has JAX with CUDA, optax, tokenizers and numpy:
#
#   bash tools/organism/gpu_prepare.sh                     # here; then carry gpu-run/organism
#   python3 tools/organism/train.py --mirror gpu-run/organism/mirror \
#     --corpora gpu-run/organism/corpora --work "$OUT/work" --out "$OUT/organism"   # there
#
# (with --steps, --task-batch, ... as the run needs; the model card records what was used).
set -euo pipefail
cd "$(dirname "$0")/../.."
mirror=${SOUP_MIRROR:-../shared/data}
dest=gpu-run/organism
rm -rf "$dest" && mkdir -p "$dest/mirror" "$dest/corpora"
cp -r "$mirror/tokenizer" "$mirror/function_vectors" "$mirror/news" "$dest/mirror/"
# The tarballs alone: the trainer checks their sha256 and unpacks them itself.
.venv/bin/python -c "
import sys; sys.path.insert(0, 'tools/organism'); import train, pathlib
train.fetch_corpora(pathlib.Path('data/cache/organism-corpora'))"
cp data/cache/organism-corpora/*.tgz "$dest/corpora/"
du -sh "$dest"

#!/usr/bin/env bash
# Installs an organism the trainer exported (train.py --out DIR) as data/models/organism and
# regenerates everything that depends on it, in this order:
#   1. the checkpoint files (config.json, model.safetensors, training.json, loss.csv,
#      seen_ids.npy) replace the committed ones; the model card (README.md) is kept for editing;
#   2. loss.svg / loss.png (tools/organism/loss_plot.ts);
#   3. the JAX-vs-NumPy export check (tools/organism/check_export.py, needs .venv);
#   4. every figure on it, timed, with a fresh cache (deno task reproduce --model organism);
#   5. the summaries and PNGs under docs/organism/, and the README's claim table from them;
#   6. the transformers parity fixtures of the organism (tools/hf/make_fixtures.py, needs
#      .venv-hf); the random checkpoints' fixtures are restored from git, since only the
#      organism's change.
#
#   bash tools/organism/ship.sh DIR
#
# Then: set the floors in tests/organism_test.ts from what it prints, write the model card and
# the notebooks' readings from docs/organism/, and re-execute the notebooks
# (deno run -A tools/notebooks/execute.ts).
set -euo pipefail
src=${1:?usage: bash tools/organism/ship.sh DIR (a folder train.py exported)}
cd "$(dirname "$0")/../.."
o=data/models/organism
for f in config.json model.safetensors training.json loss.csv seen_ids.npy; do
  [ -f "$src/$f" ] || { echo "ship.sh: $src/$f is missing: not a folder train.py exported"; exit 1; }
done
for f in config.json model.safetensors training.json loss.csv seen_ids.npy; do cp "$src/$f" "$o/$f"; done
rm -f "$o/loss.svg" "$o/loss.png"
deno run --allow-all tools/organism/loss_plot.ts "$o"
.venv/bin/python tools/organism/check_export.py "$o"

cache=$(mktemp -d)
start=$(date +%s)
SOUP_CACHE="$cache" deno task reproduce --model organism --force
echo "deno task reproduce --model organism (fresh cache): $(($(date +%s) - start)) s"
rm -rf "$cache"
for pair in icl/accuracy.csv:icl_accuracy.csv retrieval/accuracy.csv:retrieval_accuracy.csv \
  mixing/accuracy.csv:mixing_accuracy.csv adecay/summary.csv:adecay_summary.csv \
  arithmetic/targets.csv:arithmetic_targets.csv clustering/points.csv:clustering_points.csv \
  layers/summary.csv:layers_summary.csv composition/summary.csv:composition_summary.csv \
  arithmetic/rates.csv:arithmetic_rates.csv scale/accuracy.csv:scale_accuracy.csv; do
  cp "results/${pair%%:*}" "docs/organism/${pair##*:}"
done
for f in icl/icl clustering/clustering clustering/clustering_appendix retrieval/retrieval \
  mixing/mixing mixing/mixing_tasks adecay/adecay arithmetic/arithmetic arithmetic/arithmetic_pairs layers/layers \
  composition/composition scale/scale scale/scale_indexes; do
  cp "results/$f.png" "docs/organism/$(basename "$f").png"
done
for f in results/*/timing.json; do echo "$f: $(tr -d '\n ' <"$f")"; done
deno run --allow-all tools/docs/claims.ts --write # the README's claim table from those summaries
deno fmt README.md

.venv-hf/bin/python tools/hf/make_fixtures.py
for d in testdata/hf/*/; do
  case "$(basename "$d")" in
    organism | exchange) ;;
    *) git checkout -- "$d" ;;
  esac
done
git checkout -- testdata/hf/meta.json
echo "shipped $src as $o"

#!/usr/bin/env bash
# Submits `deno task reproduce ARGS` as a Slurm job array of N shards and a merge job that waits
# for them (--dependency=afterok). The shards compute their units into SOUP_CACHE, which must be
# on a filesystem every node shares; the merge writes results/ as a single run would.
#
#   SOUP_CACHE=/shared/soup-cache bash tools/slurm/submit.sh N [reproduce args...]
#
# SOUP_DENO (default "npx -y deno@2.9.6") runs Deno on the nodes; SOUP_CPUS (default 2) CPUs per
# shard; SOUP_SBATCH extra sbatch options (a partition, a time limit, --gres=gpu:1 ...);
# SOUP_SLURM_LOGS (default $SOUP_CACHE/slurm-logs) the jobs' output.
# `deno task reproduce ARGS --plan` says what the whole run will cost before you size N.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
n=${1:?"usage: bash tools/slurm/submit.sh N [reproduce args...]"}
shift
[ -n "${SOUP_CACHE:-}" ] || { echo "submit.sh: set SOUP_CACHE to a folder every node shares" >&2; exit 1; }
deno=${SOUP_DENO:-npx -y deno@2.9.6}
logs=${SOUP_SLURM_LOGS:-$SOUP_CACHE/slurm-logs} # each job's output, on the shared filesystem
mkdir -p "$logs"
args=$(printf ' %q' "$@")
extra=(${SOUP_SBATCH:-})
array=$(sbatch --parsable --array="0-$((n - 1))" --job-name=soup-shard \
  --cpus-per-task="${SOUP_CPUS:-2}" --export=ALL "${extra[@]}" \
  --output="$logs/shard-%A_%a.log" \
  --wrap "cd $(printf %q "$root") && $deno task reproduce$args --shard slurm")
merge=$(sbatch --parsable --dependency="afterok:${array%%;*}" --job-name=soup-merge \
  --cpus-per-task="${SOUP_CPUS:-2}" --export=ALL "${extra[@]}" \
  --output="$logs/merge-%j.log" \
  --wrap "cd $(printf %q "$root") && $deno task reproduce$args")
echo "shards: job array ${array%%;*} (0-$((n - 1))); merge: job $merge (after the array succeeds); logs in $logs"

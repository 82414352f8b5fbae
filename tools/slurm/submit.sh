#!/usr/bin/env bash
# Submits `deno task reproduce ARGS` as a Slurm job array of N shards and a merge job that waits
# for them (--dependency=afterok). The shards compute their units into SOUP_CACHE, which must be
# on a filesystem every node shares; the merge writes results/ as a single run would, and says
# which shards' units it found missing and computed itself.
#
#   SOUP_CACHE=/shared/soup-cache bash tools/slurm/submit.sh N [reproduce args...]
#
# Each job's time limit comes from `reproduce ARGS --plan` (run here first, from config.json
# alone): a shard gets 3x its share of the planned CPU time plus 10 minutes (the units are split
# by hash, not balanced, and nodes differ), the merge 10 minutes plus 3x one shard's share in
# case a shard's units are missing. SOUP_PLAN=0 skips the plan (no time limit is set), and a
# --time (-t) in SOUP_SBATCH wins over it.
# SOUP_DENO (default "npx -y deno@2.9.6") runs Deno on the nodes; SOUP_CPUS (default 2) CPUs per
# shard; SOUP_SBATCH extra sbatch options (a partition, a time limit, --gres=gpu:1 ...);
# SOUP_SLURM_LOGS (default $SOUP_CACHE/slurm-logs) the jobs' output.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
n=${1:?"usage: bash tools/slurm/submit.sh N [reproduce args...]"}
shift
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: N must be a whole number from 1, got \"$n\"" >&2; exit 1; }
[ -n "${SOUP_CACHE:-}" ] || { echo "submit.sh: set SOUP_CACHE to a folder every node shares" >&2; exit 1; }
deno=${SOUP_DENO:-npx -y deno@2.9.6}
logs=${SOUP_SLURM_LOGS:-$SOUP_CACHE/slurm-logs} # each job's output, on the shared filesystem
mkdir -p "$logs"
args=$(printf ' %q' "$@")
extra=(${SOUP_SBATCH:-})

shard_time=() merge_time=() said="no time limit (SOUP_PLAN=0)"
if printf '%s\n' "${extra[@]}" | grep -qE '^(--time(=|$)|-t)'; then
  said="the time limit SOUP_SBATCH gives"
elif [ "${SOUP_PLAN:-1}" != 0 ]; then
  echo "submit.sh: planning the run (deno task reproduce$args --plan) ..." >&2
  cpu=$($deno task reproduce "$@" --plan --json 2>"$logs/plan.log" |
    $deno eval 'const p = JSON.parse(await new Response(Deno.stdin.readable).text());
      console.log(Math.ceil(p.total.cpuSeconds))') || {
    echo "submit.sh: the plan failed (its output: $logs/plan.log); SOUP_PLAN=0 submits without one" >&2
    exit 1
  }
  share=$(((cpu + n - 1) / n))
  minutes=$(((3 * share + 59) / 60 + 10))
  shard_time=(--time="$minutes")
  merge_time=(--time="$minutes")
  said="$minutes min each (3x its share of the plan's ${cpu} CPU s, plus 10 min)"
fi

array=$(sbatch --parsable --array="0-$((n - 1))" --job-name=soup-shard \
  --cpus-per-task="${SOUP_CPUS:-2}" --export=ALL "${shard_time[@]}" "${extra[@]}" \
  --output="$logs/shard-%A_%a.log" \
  --wrap "cd $(printf %q "$root") && $deno task reproduce$args --shard slurm")
merge=$(sbatch --parsable --dependency="afterok:${array%%;*}" --job-name=soup-merge \
  --cpus-per-task="${SOUP_CPUS:-2}" --export=ALL "${merge_time[@]}" "${extra[@]}" \
  --output="$logs/merge-%j.log" \
  --wrap "cd $(printf %q "$root") && $deno task reproduce$args")
echo "shards: job array ${array%%;*} (0-$((n - 1))), $said; merge: job $merge (after the array succeeds); logs in $logs"

#!/usr/bin/env bash
# Prints the Kubernetes manifests of a sharded `deno task reproduce ARGS`: an Indexed Job of N
# pods (`--shard k8s --shard-count N`: pod I computes shard I, from JOB_COMPLETION_INDEX) and a
# merge Job, both mounting one ReadWriteMany volume that holds the project and SOUP_CACHE.
#
#   bash tools/k8s/indexed_job.sh N [reproduce args...] > soup.yaml
#   kubectl apply -f soup.yaml            # the volume claim and the shards' Indexed Job
#   kubectl wait --for=condition=complete --timeout=24h job/soup-shards
#   bash tools/k8s/indexed_job.sh --merge N [reproduce args...] | kubectl apply -f -
#
# Kubernetes has no dependency between Jobs, so the merge is applied once the shards' Job has
# completed (kubectl wait). Before the first run, copy the project (a clone, with the model
# under data/ or a mirror) onto the volume at /soup/project, e.g. with `kubectl cp` into a pod
# that mounts it. SOUP_K8S_IMAGE (default node:20-bookworm, which runs Deno through npx),
# SOUP_K8S_CPUS (default 2), SOUP_K8S_MEMORY (default 8Gi), SOUP_K8S_STORAGE (default 50Gi) and
# SOUP_K8S_STORAGE_CLASS (default: the cluster's) adjust it.
#
# Written to the Job API (batch/v1, completionMode Indexed, Kubernetes 1.24 and later); there
# is no Kubernetes cluster on the project's machines, so it has been checked only as a document
# (tests/k8s_test.ts: the manifests parse, the shard count agrees with completions, and the pods
# run the same command that the Slurm array runs).
set -euo pipefail
merge=0
if [ "${1:-}" = "--merge" ]; then
  merge=1
  shift
fi
n=${1:?"usage: bash tools/k8s/indexed_job.sh [--merge] N [reproduce args...]"}
shift
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "indexed_job.sh: N must be a whole number from 1, got \"$n\"" >&2; exit 1; }
image=${SOUP_K8S_IMAGE:-node:20-bookworm}
cpus=${SOUP_K8S_CPUS:-2}
memory=${SOUP_K8S_MEMORY:-8Gi}
# Each argument as a YAML double-quoted string (JSON's escaping is valid YAML).
quote() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/"/'; }
list=""
for a in "$@"; do list="$list, $(quote "$a")"; done

# The container: one pod of the shards, or the merge.
container() { # $1: the extra arguments of reproduce
  cat <<YAML
      containers:
        - name: reproduce
          image: $image
          workingDir: /soup/project
          command: ["npx", "-y", "deno@2.9.6", "task", "reproduce"$list$1]
          env:
            - { name: SOUP_CACHE, value: /soup/cache }
            - { name: DENO_DIR, value: /soup/deno-dir }
            - { name: npm_config_cache, value: /soup/npm-cache }
          resources:
            requests: { cpu: "$cpus", memory: $memory }
            limits: { cpu: "$cpus", memory: $memory }
          volumeMounts:
            - { name: soup, mountPath: /soup }
      volumes:
        - name: soup
          persistentVolumeClaim: { claimName: soup }
YAML
}

if [ "$merge" = 1 ]; then
  cat <<YAML
# The merge: the same command without --shard, once job/soup-shards has completed. It computes
# only what no shard finished and writes results/ under /soup/project.
apiVersion: batch/v1
kind: Job
metadata:
  name: soup-merge
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: OnFailure
$(container "")
YAML
  exit 0
fi

class=""
[ -n "${SOUP_K8S_STORAGE_CLASS:-}" ] && class="
  storageClassName: ${SOUP_K8S_STORAGE_CLASS}"
cat <<YAML
# The volume every pod shares: the project (/soup/project), the cache of states and partial
# results (/soup/cache), and Deno's and npm's caches.
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: soup
spec:
  accessModes: [ReadWriteMany]$class
  resources:
    requests: { storage: ${SOUP_K8S_STORAGE:-50Gi} }
---
# The shards: pod I (JOB_COMPLETION_INDEX) computes shard I of $n into /soup/cache. A pod that
# is killed is restarted and resumes from what it cached.
apiVersion: batch/v1
kind: Job
metadata:
  name: soup-shards
spec:
  completionMode: Indexed
  completions: $n
  parallelism: $n
  backoffLimit: 6
  template:
    spec:
      restartPolicy: OnFailure
$(container ", \"--shard\", \"k8s\", \"--shard-count\", \"$n\"")
YAML

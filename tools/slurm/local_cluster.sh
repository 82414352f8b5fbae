#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying tools/slurm/submit.sh and for the tests:
# Debian's munge, slurmctld and slurmd (apt-get install slurmctld slurmd slurm-client munge), as
# root, every state, spool, log and pid file under one folder.
#
#   bash tools/slurm/local_cluster.sh start DIR   # writes DIR/slurm.conf, starts the daemons
#   bash tools/slurm/local_cluster.sh stop DIR    # stops what start started (by pid)
#
# Then: SLURM_CONF=DIR/slurm.conf sbatch ... (or export it).
set -euo pipefail
what=${1:?"usage: local_cluster.sh start|stop DIR"}
dir=${2:?"usage: local_cluster.sh start|stop DIR"}
case "$what" in
start)
  for b in munged slurmctld slurmd sbatch; do
    command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || {
      echo "local_cluster.sh: $b is missing: apt-get install slurmctld slurmd slurm-client munge" >&2
      exit 1
    }
  done
  [ "$(id -u)" -eq 0 ] || { echo "local_cluster.sh: run as root (the daemons need it)" >&2; exit 1; }
  mkdir -p "$dir/state" "$dir/spool"
  # munged runs as the munge user, which must reach its files: a folder of its own under /tmp
  # (DIR's parents may be closed to it), linked as DIR/munge and removed by stop.
  m=$(mktemp -d /tmp/soup-munge.XXXXXX)
  chmod 755 "$m"
  ln -sfn "$m" "$dir/munge"
  host=$(hostname -s)
  cpus=$(nproc)
  # munge: its own key, socket and pid under DIR.
  dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 status=none
  chown -R munge "$m"
  chmod 400 "$m/munge.key"
  su -s /bin/sh munge -c "/usr/sbin/munged --key-file=$m/munge.key \
    --socket=$m/munge.socket --pid-file=$m/munged.pid \
    --log-file=$m/munged.log --seed-file=$m/munge.seed"
  cat >"$dir/slurm.conf" <<CONF
ClusterName=soup
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$m/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
ReturnToService=2
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$dir/slurm.conf
  /usr/sbin/slurmctld -f "$SLURM_CONF"
  /usr/sbin/slurmd -f "$SLURM_CONF"
  for _ in $(seq 1 30); do
    if sinfo -h -o %t 2>/dev/null | grep -q idle; then
      echo "local_cluster.sh: node $host idle; export SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 1
  done
  echo "local_cluster.sh: the node did not come up: see $dir/slurmctld.log and $dir/slurmd.log" >&2
  exit 1
  ;;
stop)
  pids=()
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -f "$f" ] && pids+=("$(cat "$f")")
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Wait until every one has exited, then remove munge's folder.
  for _ in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  m=$(readlink "$dir/munge" || true)
  case "$m" in /tmp/soup-munge.*) rm -rf "$m" ;; esac
  rm -f "$dir/munge"
  ;;
*)
  echo "usage: local_cluster.sh start|stop DIR" >&2
  exit 2
  ;;
esac

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
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  chmod 755 "$dir" # munged runs as the munge user
  host=$(hostname -s)
  cpus=$(nproc)
  # munge: its own key, socket and pid under DIR.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown -R munge "$dir/munge"
  chmod 755 "$dir/munge"
  chmod 400 "$dir/munge/munge.key"
  su -s /bin/sh munge -c "/usr/sbin/munged --key-file=$dir/munge/munge.key \
    --socket=$dir/munge/munge.socket --pid-file=$dir/munge/munged.pid \
    --log-file=$dir/munge/munged.log --seed-file=$dir/munge/munge.seed"
  cat >"$dir/slurm.conf" <<CONF
ClusterName=soup
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
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
  for pid in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  ;;
*)
  echo "usage: local_cluster.sh start|stop DIR" >&2
  exit 2
  ;;
esac

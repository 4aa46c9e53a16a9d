#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests/slurm.rs (CI runs it as root):
#   scripts/slurm-cluster.sh start DIR   installs slurm-wlm and munge if missing, writes DIR/slurm.conf,
#                                        starts munged, slurmctld and slurmd; prints SLURM_CONF=…
#   scripts/slurm-cluster.sh stop DIR    stops them by their pid files.
# Everything it writes (state, spool, logs, pid files) stays in DIR. Settings from
# ../shared/docs/slurm-one-node.md: no cgroups, no accounting, root as SlurmUser.
set -euo pipefail
action=${1:?start or stop}
dir=$(realpath -m "${2:?a folder for the cluster state}")

stop() {
  for pid_file in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"; do
    if [ -s "$pid_file" ]; then kill "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  # munged keeps its pid file where its package says.
  [ -s /run/munge/munged.pid ] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
  return 0
}

if [ "$action" = stop ]; then stop; exit 0; fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
mkdir -p "$dir/state" "$dir/spool"
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ { print $2 }' /proc/meminfo) / 1024 - 1024 ))
cat > "$dir/slurm.conf" <<CONF
ClusterName=plateau-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
KillWait=30
NodeName=localhost CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf

# munge: its key, its run folder, its daemon as its own user.
[ -s /etc/munge/munge.key ] || /usr/sbin/mungekey --create 2>/dev/null || \
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  su -s /bin/sh munge -c /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done

slurmctld
slurmd
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && { echo "SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.2
done
echo "the Slurm node did not come up; logs in $dir" >&2
sinfo >&2 || true
stop
exit 1

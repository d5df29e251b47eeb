#!/usr/bin/env bash
# Starts a one-node SLURM cluster on this machine (Debian's slurm-wlm and
# munge) for the cluster tests of #20, idempotently: a cluster already up
# is left as it is.
#
#   munged as the munge user (its key made once with mungekey), then
#   slurmctld and slurmd with a slurm.conf under $IMGSAVE_ENGINES_DIR/slurm
#   (default /var/lib/imgsave-ci): SlurmUser=root, no cgroups (linuxproc,
#   task/none), this host as the one node with its CPUs, and a partition
#   `debug` that lets 8 jobs share each CPU (OverSubscribe=FORCE:8), so that
#   an array job's tasks run at once.
#
# Prints nothing on stdout but the environment to use:
#   SLURM_CONF='/var/lib/imgsave-ci/slurm/slurm.conf'
# Needs root (apt-get, the daemons).
set -euo pipefail

root=${IMGSAVE_ENGINES_DIR:-/var/lib/imgsave-ci}
dir=$root/slurm
conf=$dir/slurm.conf
log() { printf 'slurm: %s\n' "$*" >&2; }

need=()
for p in slurm-wlm munge; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	flock /var/lock/imgsave-apt.lock apt-get update -qq
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 flock /var/lock/imgsave-apt.lock apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# munge: the key once, its run folder, the daemon as its own user.
[ -f /etc/munge/munge.key ] || mungekey -c -f -k /etc/munge/munge.key
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
	log "starting munged"
	runuser -u munge -- /usr/sbin/munged
	for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
	munge -n | unmunge >/dev/null || { log "munged did not come up"; exit 1; }
fi

node=$(hostname -s)
mkdir -p "$dir/state" "$dir/spool"
{
	echo "ClusterName=imgsave"
	echo "SlurmctldHost=$node"
	echo "SlurmUser=root"
	echo "AuthType=auth/munge"
	echo "StateSaveLocation=$dir/state"
	echo "SlurmdSpoolDir=$dir/spool"
	echo "SlurmctldPidFile=$dir/slurmctld.pid"
	echo "SlurmdPidFile=$dir/slurmd.pid"
	echo "SlurmctldLogFile=$dir/slurmctld.log"
	echo "SlurmdLogFile=$dir/slurmd.log"
	echo "ProctrackType=proctrack/linuxproc"
	echo "TaskPlugin=task/none"
	echo "JobAcctGatherType=jobacct_gather/none"
	echo "SelectType=select/cons_tres"
	# Cores alone are consumed: with memory too, every job would ask for
	# the whole node's and an array's tasks would run one at a time.
	echo "SelectTypeParameters=CR_Core"
	echo "ReturnToService=2"
	echo "NodeName=$node CPUs=$(nproc) RealMemory=8000 State=UNKNOWN"
	echo "PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8"
} >"$conf.new"
if ! cmp -s "$conf.new" "$conf"; then
	mv "$conf.new" "$conf"
	pkill -x slurmctld 2>/dev/null || true
	pkill -x slurmd 2>/dev/null || true
	while pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; do sleep 0.1; done
else
	rm -f "$conf.new"
fi
export SLURM_CONF=$conf
if ! pgrep -x slurmctld >/dev/null; then
	log "starting slurmctld"
	/usr/sbin/slurmctld -f "$conf"
fi
if ! pgrep -x slurmd >/dev/null; then
	log "starting slurmd on $node"
	/usr/sbin/slurmd -f "$conf"
fi
up() { sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; }
for _ in $(seq 1 100); do up && break; sleep 0.2; done
up || {
	log "the node did not come up:"
	sinfo >&2 || true
	tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
	exit 1
}
printf "SLURM_CONF='%s'\n" "$conf"

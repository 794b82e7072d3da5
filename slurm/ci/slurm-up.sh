#!/usr/bin/env bash
# Start a real single-node SLURM cluster on localhost for the SLURM tests: munge, MariaDB +
# slurmdbd (accounting: submitit reads job states through `sacct`), slurmctld and slurmd.
# Runs as root, without systemd or cgroups (Debian bookworm packages, SLURM 22.05).
# Everything lives under $ROOT; stop it with slurm-down.sh (same $ROOT), which kills by PID file.
#
#   ROOT=/tmp/subspace-bench-slurm bash slurm/ci/slurm-up.sh
#   export SLURM_CONF=/tmp/subspace-bench-slurm/etc/slurm.conf
#
# INSTALL=0 skips apt-get; WITH_DBD=0 skips accounting (then a job that dies without a result
# stays UNKNOWN to submitit and its result() hangs: the tests need WITH_DBD=1).
set -euo pipefail
ROOT=${ROOT:-/tmp/subspace-bench-slurm}
WITH_DBD=${WITH_DBD:-1}
INSTALL=${INSTALL:-1}
DB_PORT=${DB_PORT:-3306}
start_ns=$(date +%s%N)
say() { printf '[slurm-up %5ds] %s\n' $(( ($(date +%s%N) - start_ns) / 1000000000 )) "$*"; }
wait_for() { # wait_for <seconds> <command...>: retry every 0.25 s
  local tries=$(( $1 * 4 )); shift
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "slurm-up: timed out waiting for: $*; logs in $ROOT/log" >&2
  return 1
}

if [ "$(id -u)" != 0 ]; then
  echo "slurm-up: run as root (the daemons run as root, without systemd)" >&2
  exit 1
fi
if [ "$INSTALL" = 1 ]; then
  packages="slurmctld slurmd slurm-client munge"
  [ "$WITH_DBD" = 1 ] && packages="$packages slurmdbd mariadb-server"
  apt-get update -qq
  # Package scripts cannot start services here (no systemd); we start them below.
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
  say "packages installed"
fi

mkdir -p "$ROOT"/{etc,state,spool/slurmd-localhost,log,run/munge,munge,mysql}
chmod 755 "$ROOT" "$ROOT/run"  # munged wants o+x on every folder above its socket
chmod 700 "$ROOT/munge"      # the key folder stays private
chmod 755 "$ROOT/run/munge"  # munged refuses a socket folder without o+x
SOCK=$ROOT/run/munge/munge.socket.2

# ---- munge -------------------------------------------------------------------------------
[ -f "$ROOT/munge/munge.key" ] || mungekey --create --keyfile="$ROOT/munge/munge.key"
/usr/sbin/munged --key-file="$ROOT/munge/munge.key" --socket="$SOCK" \
  --pid-file="$ROOT/run/munged.pid" --log-file="$ROOT/log/munged.log" \
  --seed-file="$ROOT/munge/munged.seed"
wait_for 10 bash -c "munge -n -S '$SOCK' | unmunge -S '$SOCK'"
say "munged up (pid $(cat "$ROOT/run/munged.pid"))"

NCPU=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 512 ))

# ---- MariaDB + slurmdbd ------------------------------------------------------------------
ACCOUNTING="AccountingStorageType=accounting_storage/none"
if [ "$WITH_DBD" = 1 ]; then
  if [ ! -d "$ROOT/mysql/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$ROOT/mysql" --user=root --skip-test-db \
      --auth-root-authentication-method=socket >"$ROOT/log/mariadb-install.log" 2>&1
  fi
  setsid /usr/sbin/mariadbd --no-defaults --user=root --datadir="$ROOT/mysql" \
    --socket="$ROOT/run/mysqld.sock" --pid-file="$ROOT/run/mysqld.pid" \
    --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
    --log-error="$ROOT/log/mariadb.err" --innodb-buffer-pool-size=128M \
    --innodb-lock-wait-timeout=900 </dev/null >/dev/null 2>&1 &
  SQL="mariadb --no-defaults -S $ROOT/run/mysqld.sock -uroot"
  wait_for 30 $SQL -e 'select 1'
  $SQL -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
           GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
  say "mariadbd up (pid $(cat "$ROOT/run/mysqld.pid"))"
  cat >"$ROOT/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=localhost
DbdPort=6819
SlurmUser=root
PidFile=$ROOT/run/slurmdbd.pid
LogFile=$ROOT/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
CONF
  chmod 600 "$ROOT/etc/slurmdbd.conf"  # slurmdbd refuses a conf that others can read
  # slurmdbd looks for slurmdbd.conf in the folder of $SLURM_CONF.
  SLURM_CONF=$ROOT/etc/slurm.conf /usr/sbin/slurmdbd
  wait_for 30 bash -c "echo > /dev/tcp/127.0.0.1/6819"
  say "slurmdbd up (pid $(cat "$ROOT/run/slurmdbd.pid"))"
  # slurmctld -> slurmdbd authenticates through AccountingStoragePass (the munge socket);
  # AuthInfo=socket=... is not used for that connection in SLURM 22.05.
  ACCOUNTING="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStoragePass=$SOCK"
fi

# ---- slurm.conf --------------------------------------------------------------------------
# cred_expire is also the wait before a requeued job may start again (default 120 s);
# bf_interval=1 lets the backfill scheduler start it soon after.
cat >"$ROOT/etc/slurm.conf" <<CONF
ClusterName=citest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK,cred_expire=10
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool/slurmd-%n
SlurmctldPidFile=$ROOT/run/slurmctld.pid
SlurmdPidFile=$ROOT/run/slurmd-%n.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
$ACCOUNTING
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=localhost CPUs=$NCPU RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$ROOT/etc/slurm.conf

# ---- slurmctld + slurmd (both daemonise; PID files in $ROOT/run) ---------------------------
/usr/sbin/slurmctld -f "$SLURM_CONF"
# -N localhost: the node is named localhost whatever the machine's hostname.
/usr/sbin/slurmd -f "$SLURM_CONF" -N localhost
wait_for 60 bash -c '[ "$(sinfo -h -o %T)" = idle ]'
say "slurmctld (pid $(cat "$ROOT/run/slurmctld.pid")) and slurmd up; node idle"
if [ "$WITH_DBD" = 1 ]; then
  wait_for 30 bash -c 'sacctmgr -n -P show cluster format=cluster | grep -qx citest'
  say "cluster registered in slurmdbd"
fi
srun -t 1 hostname >/dev/null
say "srun works; export SLURM_CONF=$SLURM_CONF"

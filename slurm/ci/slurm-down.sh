#!/usr/bin/env bash
# Stop the daemons started by slurm-up.sh (same $ROOT), by PID file: first the SLURM daemons
# (slurmd first, after cancelling leftover jobs), then MariaDB and munged.
ROOT=${ROOT:-/tmp/subspace-bench-slurm}
export SLURM_CONF=$ROOT/etc/slurm.conf
start_ns=$(date +%s%N)

stop_group() { # stop_group <name>...: SIGTERM all, wait up to 30 s, SIGKILL what is left
  local name pid_file pid pids=()
  for name in "$@"; do
    pid_file=$ROOT/run/$name.pid
    [ -f "$pid_file" ] || continue
    pid=$(cat "$pid_file")
    rm -f "$pid_file"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      pids+=("$pid:$name")
    fi
  done
  local entry
  for entry in "${pids[@]}"; do
    pid=${entry%%:*}
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm-down: ${entry#*:} ($pid) did not stop after 30 s; SIGKILL"
      kill -KILL "$pid"
    fi
    echo "slurm-down: stopped ${entry#*:} ($pid)"
  done
}

# Cancel leftover jobs first so that their slurmstepd processes end cleanly.
if [ -f "$ROOT/run/slurmctld.pid" ]; then
  scancel --user="$(id -un)" >/dev/null 2>&1 || true
fi
stop_group slurmd-localhost  # first, while slurmctld can still answer it
stop_group slurmctld slurmdbd
stop_group mysqld munged
printf '[slurm-down %ds] done\n' $(( ($(date +%s%N) - start_ns) / 1000000000 ))

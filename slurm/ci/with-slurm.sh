#!/usr/bin/env bash
# Start a throw-away single-node SLURM on this machine, run a command against it with
# SUBSPACE_BENCH_REQUIRE_SLURM=1 (a missing cluster fails the SLURM tests instead of skipping
# them), and stop the daemons by PID at the end, also when the command fails or the run is
# interrupted. Needs root and apt (Debian bookworm). Without a command it runs the tests
# marked `slurm`.
#
#   bash slurm/ci/with-slurm.sh                          # pytest -m slurm
#   bash slurm/ci/with-slurm.sh python -m pytest -q      # the whole suite (what .ci/run does)
#   INSTALL=0 bash slurm/ci/with-slurm.sh                # packages already installed
#
# PYTHON: the interpreter with the project installed (default: the active virtualenv's
# python, else .venv/bin/python). ROOT: where the cluster lives (default: a new temporary
# folder, removed at the end unless KEEP_ROOT=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=slurm/ci

if [ -z "${PYTHON:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ]; then PYTHON=python
  elif [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python
  else PYTHON=python3
  fi
fi
made_root=0
if [ -z "${ROOT:-}" ]; then
  ROOT=$(mktemp -d /tmp/subspace-bench-slurm.XXXXXX)
  made_root=1
fi
export ROOT

t_start=$(date +%s)
t_up=$t_start
t_tests=$t_start
finish() {
  local status=$?
  local t_down
  t_down=$(date +%s)
  bash "$here/slurm-down.sh" || true
  if [ "$made_root" = 1 ] && [ "${KEEP_ROOT:-0}" != 1 ]; then rm -rf "$ROOT"; fi
  local t_end
  t_end=$(date +%s)
  echo "[slurm-ci] start $((t_up - t_start)) s, tests $((t_tests - t_up)) s," \
    "teardown $((t_end - t_down)) s, total $((t_end - t_start)) s (exit $status)"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

bash "$here/slurm-up.sh"
t_up=$(date +%s)
t_tests=$t_up
export SLURM_CONF=$ROOT/etc/slurm.conf
export SUBSPACE_BENCH_REQUIRE_SLURM=1
set +e
if [ "$#" -gt 0 ]; then
  "$@"
else
  "$PYTHON" -m pytest -m slurm -q -p no:cacheprovider
fi
tests_status=$?
set -e
t_tests=$(date +%s)
exit "$tests_status"

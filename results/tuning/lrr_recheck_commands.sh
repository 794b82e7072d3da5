#!/usr/bin/env bash
# LRR's text λ searches (results/lrr_tuning.md) rerun under today's solver on the three best
# values of each grid: their 2026-12-02 records predate 20newsgroups-meta's `groups`
# parameter and cannot be rerun by `verify`. Run from the repository root.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for space in 20newsgroups bbc; do
  python -m benchmark run --methods lrr --datasets 20newsgroups-meta --sizes 2225 \
      --seeds 100,101,102 --set 20newsgroups-meta.feature_space=$space \
      --set lrr.lam=0.05,0.1,0.15 --out results/tuning/lrr-recheck --jobs 1 --timeout-min 20
done
python -m benchmark tuning --out results/tuning/lrr-recheck --save results/tuning/lrr-recheck.md

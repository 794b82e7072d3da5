#!/usr/bin/env bash
# DASC sensitivity to its adversarial weight w_adv (../shared/PROTOCOL.md, "Sensitivity"),
# on BBC's tuning data: the 10 meta groups of 20 Newsgroups in BBC's feature space, 2,225
# posts, tuning seed 100 (never a reported seed). The reference code's w_adv = 1 leaves
# the adversarial term ~1e-3 of the loss; this asks whether larger weights move the result.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
python -m benchmark run --methods dasc --datasets 20newsgroups-meta --sizes 2225 --seeds 100 \
    --set 20newsgroups-meta.feature_space=bbc --set dasc.adversarial_weight=1,100,1000,10000 \
    --variants plain --out results/tuning/dasc --jobs 1 --timeout-min 30
python -m benchmark tuning --out results/tuning/dasc

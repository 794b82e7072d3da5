#!/usr/bin/env bash
# DSCN-L1/L2 (regenerated with the transfer-chosen settings), DPSC and DASC (issue 10):
# both readouts (plain, DSC-Net post-processing; they share one fit through the
# coefficient cache), one torch thread per task, two tasks at a time.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# (regenerated 2026-12-03 with the same command after removing the records: the earlier
# ones came from older deep-core code and did not reproduce under `verify`)
python -m benchmark run --methods dscn-l1,dscn-l2,dpsc,dasc --datasets bbc,fashion-mnist,notmnist \
    --sizes 1000,2225 --seeds 0,1,2 --jobs 2 --out results --timeout-min 60
# 20 Newsgroups (9,301 posts, full-batch C of 9,301^2). DASC re-clusters every 10
# adversarial epochs there instead of every epoch (each re-clustering of 9,301 points
# takes about a minute on this CPU).
python -m benchmark run --methods dscn-l1,dscn-l2,dpsc --datasets 20newsgroups --seeds 0,1,2 \
    --jobs 2 --out results --timeout-min 120
python -m benchmark run --methods dasc --datasets 20newsgroups --seeds 0,1,2 \
    --set dasc.cluster_every=10 --jobs 1 --out results --timeout-min 120
# (DSCN-L1/L2 and DPSC at 5,000 and 10,000 seed 0 regenerated 2026-12-03 with the same
# commands and an empty artefact folder; DASC at 5,000 and 10,000 in the fourth session of
# that day, two runs at a time with OPENBLAS_NUM_THREADS unset and --timeout-min 60: a DASC
# fit at 5,000 took 31-33 minutes beside another run)
# Seed 0 at 5,000 images (Table 2), both readouts; 10,000 where a run takes under 30 minutes.
python -m benchmark run --methods dscn-l2,dscn-l1,dpsc --datasets fashion-mnist,notmnist \
    --sizes 5000 --seeds 0 --jobs 1 --timeout-min 30 --out results
python -m benchmark run --methods dasc --datasets fashion-mnist,notmnist \
    --sizes 5000 --seeds 0 --jobs 1 --timeout-min 60 --out results
# Seed 0 at 10,000 images (Table 1), both readouts, 30 minutes per task at most. DASC
# re-clusters every 10 adversarial epochs there, as on 20 Newsgroups: re-clustering every
# epoch (the reference's interval) took about 87 s per adversarial epoch at 10,000 points
# on this CPU, over an hour for the 50 adversarial epochs.
python -m benchmark run --methods dscn-l2,dpsc,dscn-l1 --datasets fashion-mnist,notmnist \
    --sizes 10000 --seeds 0 --jobs 1 --timeout-min 30 --out results
python -m benchmark run --methods dasc --datasets fashion-mnist,notmnist --sizes 10000 \
    --seeds 0 --set dasc.cluster_every=10 --jobs 1 --timeout-min 60 --out results
# Seeds 1-2 at 5,000 and 10,000 images (issue 9: three seeds where a cell costs under
# about 15 minutes), both readouts, one torch thread per task, two tasks at a time.
python -m benchmark run --methods dscn-l2,dscn-l1 --datasets fashion-mnist,notmnist \
    --sizes 5000 --seeds 1,2 --jobs 2 --timeout-min 30 --out results
python -m benchmark run --methods dscn-l2,dscn-l1 --datasets fashion-mnist,notmnist \
    --sizes 10000 --seeds 1,2 --jobs 2 --timeout-min 30 --out results

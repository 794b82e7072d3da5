#!/usr/bin/env bash
# The '*' settings of DSCN-L1/L2 (issue 9): what a dataset without settings of its own gets.
# Chosen across MNIST (1,000 digits) and Omniglot (10 characters drawn by the seed, their
# 200 drawings), checked on a dataset the choice did not see: Fashion-MNIST's tuning pool
# (1,000 images, no reported sample's points). Scale-free input (input_scale=unit-rms), so
# that the choice means the same on data of any scale; tuning seeds 100-101; plain readout
# (the selection rule of results/tuning/README.md). Run from the repository root.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
GRID=(--set dscn-l1.input_scale=unit-rms --set dscn-l2.input_scale=unit-rms
      --set dscn-l1.lambda1=0.01,0.1,1,10 --set dscn-l2.lambda1=0.01,0.1,1,10)
RUN=(python -m benchmark run --methods dscn-l1,dscn-l2 --seeds 100,101 --variants plain
     --out results/tuning/star --jobs 1 --timeout-min 20)
"${RUN[@]}" "${GRID[@]}" --datasets omniglot --sizes 200 --set omniglot.characters=10
"${RUN[@]}" "${GRID[@]}" --datasets mnist --sizes 1000
"${RUN[@]}" "${GRID[@]}" --datasets fashion-mnist --sizes 1000 --set fashion-mnist.pool=tuning
python -m benchmark tuning --out results/tuning/star --held-out fashion-mnist \
    --save results/tuning/star.md

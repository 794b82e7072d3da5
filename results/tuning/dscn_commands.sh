#!/usr/bin/env bash
# DSCN-L1/L2 transfer search (../shared/PROTOCOL.md, "where a value may come from"):
# text settings on the 10 meta groups of 20 Newsgroups in BBC's and in 20 Newsgroups'
# feature space, image settings on Fashion-MNIST's tuning pool (points no reported sample
# contains); tuning seeds 100-102, never the reported 0-2. Run from the repository root;
# the last two commands extend the grid where the best value sat on its edge.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
python -m benchmark run --methods dscn-l1,dscn-l2 --datasets 20newsgroups-meta --sizes 2225 \
    --seeds 100,101,102 --set 20newsgroups-meta.feature_space=bbc,20newsgroups \
    --set dscn-l1.lambda1=1,10,100 --set dscn-l2.lambda1=1,10,100 \
    --out results/tuning/dscn --jobs 2 --timeout-min 60
python -m benchmark run --methods dscn-l1,dscn-l2 --datasets fashion-mnist --sizes 1000 \
    --seeds 100,101,102 --set fashion-mnist.pool=tuning \
    --set dscn-l1.lambda1=0.1,1,10 --set dscn-l2.lambda1=0.1,1,10 \
    --out results/tuning/dscn --jobs 2 --timeout-min 60
python -m benchmark run --methods dscn-l1 --datasets 20newsgroups-meta --sizes 2225 \
    --seeds 100,101,102 --set 20newsgroups-meta.feature_space=bbc,20newsgroups \
    --set dscn-l1.lambda1=1000 --out results/tuning/dscn --jobs 2 --timeout-min 60
python -m benchmark run --methods dscn-l2 --datasets 20newsgroups-meta --sizes 2225 \
    --seeds 100,101,102 --set 20newsgroups-meta.feature_space=bbc,20newsgroups \
    --set dscn-l2.lambda1=0.1 --out results/tuning/dscn --jobs 2 --timeout-min 60
python -m benchmark run --methods dscn-l1,dscn-l2 --datasets fashion-mnist --sizes 1000 \
    --seeds 100,101,102 --set fashion-mnist.pool=tuning \
    --set dscn-l1.lambda1=0.01 --set dscn-l2.lambda1=0.01 \
    --out results/tuning/dscn --jobs 2 --timeout-min 60
# the summary below, as results/tuning/dscn.md shows it
python -m benchmark tuning --out results/tuning/dscn

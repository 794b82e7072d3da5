#!/usr/bin/env bash
# The '*' settings of the classical methods (issue 9): what a dataset without settings of
# its own gets. Chosen across MNIST (1,000 digits) and Omniglot (10 characters drawn by the
# seed, their 200 drawings), checked on a dataset the choice did not see: Fashion-MNIST's
# tuning pool (1,000 images, no reported sample's points). LRR on unit-norm points
# (normalize_points=True), so that λ, which weighs ‖E‖₂,₁ in the data's own units, means
# the same on data of any scale; SSC's α, EnSC's γ and SSC-OMP's ε are relative to each
# point's own coherence or norm already. Tuning seeds 100-101. Run from the repository root.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
GRID=(--set lrr.normalize_points=True --set lrr.lam=0.01,0.05,0.15,0.5,2
      --set ssc.alpha=5,20,100,800
      --set ensc.gamma=5,50,200
      --set ssc-omp.kmax=5,10,20 --set ssc-omp.eps=0.001)
RUN=(python -m benchmark run --methods lrr,ssc,ensc,ssc-omp --seeds 100,101
     --out results/tuning/classical-star --jobs 1 --timeout-min 20)
"${RUN[@]}" "${GRID[@]}" --datasets omniglot --sizes 200 --set omniglot.characters=10
"${RUN[@]}" "${GRID[@]}" --datasets mnist --sizes 1000
"${RUN[@]}" "${GRID[@]}" --datasets fashion-mnist --sizes 1000 --set fashion-mnist.pool=tuning
python -m benchmark tuning --out results/tuning/classical-star --held-out fashion-mnist \
    --save results/tuning/classical-star.md

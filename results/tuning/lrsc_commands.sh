#!/usr/bin/env bash
# LRSC's own weights (μ: distillation, γ: contrast) by transfer (../shared/PROTOCOL.md):
# the tuning target is half of 20 Newsgroups' meta groups (`groups=meta-even`: 5 groups,
# BBC's number of classes, 2,225 posts drawn by tuning seeds 100-102) in BBC's feature
# space, and its meta data is 4,000 posts of the other half (`meta-odd`), so that no
# evaluated document and no target's labels are seen. The ablation rows give the same
# tuning task without the terms (none = DSCN-L2; task = meta-learned start only).
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--datasets 20newsgroups-meta --sizes 2225 --seeds 100,101,102
        --set 20newsgroups-meta.feature_space=bbc --set 20newsgroups-meta.groups=meta-even
        --jobs 1 --timeout-min 30 --out results/tuning/lrsc)
python -m benchmark run --methods lrsc-l2 --variants plain "${COMMON[@]}" \
    --set lrsc-l2.contrast_weight=0.01,0.1,1 --set lrsc-l2.distillation_weight=0.1,1,10
# the best sat on the grid's low edge: smaller weights
python -m benchmark run --methods lrsc-l2 --variants plain "${COMMON[@]}" \
    --set lrsc-l2.contrast_weight=0.001,0.01 --set lrsc-l2.distillation_weight=0.01,0.1
python -m benchmark run --methods lrsc-l2 --variants ablation-none,ablation-task "${COMMON[@]}"
python -m benchmark run --methods lrsc-l2 --variants plain "${COMMON[@]}" \
    --set lrsc-l2.contrast_weight=0.0001 --set lrsc-l2.distillation_weight=0.1
# the summary, as lrsc.md shows it
python -m benchmark tuning --out results/tuning/lrsc

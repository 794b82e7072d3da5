#!/usr/bin/env bash
# LRSC reproduction on the CPU (issue 11), from the repository root. Weights μ̃ and γ
# come from the transfer search of results/tuning/lrsc_commands.sh. Each command is
# resumable: rerun it to finish what a killed run left.
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# (regenerated 2026-12-03 with these commands, after removing the records: the earlier ones
# came from older deep-core code; run with SUBSPACE_BENCH_ARTIFACTS pointing at an empty
# folder, so no cached teacher, meta-learner or C from older code was read)
# Table 1 (BBC) and Table 3 (BBC): LRSC-L1, LRSC-L2 with both readouts, and the ablation rows
python -m benchmark run --methods lrsc-l2,lrsc-l1 --datasets bbc --jobs 1 --timeout-min 30 --out results
# Table 1 (20 Newsgroups), both readouts
python -m benchmark run --methods lrsc-l2,lrsc-l1 --variants plain,post --datasets 20newsgroups \
    --jobs 1 --timeout-min 40 --out results
# Table 2 at 1,000 points, both readouts
python -m benchmark run --methods lrsc-l2,lrsc-l1 --variants plain,post \
    --datasets fashion-mnist,notmnist --sizes 1000 --jobs 1 --timeout-min 40 --out results
# Table 3 on notMNIST at 5,000, seed 0
python -m benchmark run --methods lrsc-l2 --variants plain,ablation-none,ablation-task,ablation-task+model \
    --datasets notmnist --sizes 5000 --seeds 0 --jobs 1 --timeout-min 60 --out results
python -m benchmark table --out results --table 1 --save results/table1.md
python -m benchmark table --out results --table 2 --save results/table2.md
python -m benchmark table --out results --table 3 --save results/table3.md

"""Executors: where tasks run (local child processes, in-process debug, SLURM)."""

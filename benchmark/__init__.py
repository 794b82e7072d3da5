"""subspace-bench: a benchmark harness for subspace clustering."""

__version__ = "0.1.0"

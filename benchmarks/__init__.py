"""Speed and comparison measurements: run each as `python -m benchmarks.NAME` from the repository root (README: Benchmarks)."""

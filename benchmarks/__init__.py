"""lowio's side-by-side benchmarks: ``python -m benchmarks [--quick]``."""

"""Benchmarks: `python -m bench.<name> [--quick]` print figures, they do not pass or fail."""

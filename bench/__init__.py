"""Benchmarks that compare l4plan and its agent with peers measured in the same run.

See docs/benchmarks.md and bench/README.md.
"""

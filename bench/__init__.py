"""Benchmarks of the local stack (``make bench``): cold starts, cost per notification,
bursts and end-to-end latency, written to ``docs/benchmarks.md`` and ``docs/benchmarks.json``."""

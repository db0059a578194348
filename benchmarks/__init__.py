"""Workloads that measure Sluice's overhead: ``python -m benchmarks`` or ``make bench``."""

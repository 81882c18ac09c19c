"""Benchmarks, and the Lambda emulation they share with ``tests/infra``."""

"""Benchmarks: run on purpose (``python bench/timing.py``), never in CI.

Each one prints its figures next to a baseline measured in the same run and
checks them against the targets it names.
"""

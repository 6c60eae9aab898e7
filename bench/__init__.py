"""Benchmarks of acs-triage: ``python -m bench`` (see :mod:`bench.cli`).

Importing this package imports nothing else: the cold-start probes run under it.
"""

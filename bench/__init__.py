"""Benchmarks for MeshedCrystal: ``python -m bench`` prints figures against their floors.

Not part of the test suite: these are measurements, not pass/fail checks.
"""

"""Benchmark and reproduction scripts (not part of the installed package); shared helpers in ``runner``."""

"""Benchmarks: each prints JSON with its baseline measured in the same run (``make bench``)."""

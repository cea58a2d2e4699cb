"""Benchmarks: each prints JSON lines with its own figures beside a baseline measured in the same run."""

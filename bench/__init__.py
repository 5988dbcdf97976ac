"""Benchmarks for signal-relay (`make bench`)."""

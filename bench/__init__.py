"""Benchmarks on the embedded parts: every figure printed with its baseline from the same run."""

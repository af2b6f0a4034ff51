"""Workflows: one module per process. Deterministic only; effects live in activities."""

"""Helpers shared by tests and benchmarks (fixtures themselves live in conftest.py)."""

"""Benchmarks and retrieval evaluation; they print figures, they never pass or fail."""

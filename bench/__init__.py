"""Benchmarks: studio code against the bare tool doing the same job, ratios printed side by side."""

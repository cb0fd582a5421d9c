"""paygate's benchmarks: what the SDK costs over a bare HTTP exchange, measured side by side.

Run with ``make bench`` (``python -m benchmarks``); ``--quick`` runs a few iterations only, as
the smoke test does so the benchmarks cannot rot.
"""

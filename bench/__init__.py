"""Benchmarks of the drain workflow and the task scaler, measured in the local AWS world.

    PYTHONPATH=tests:. .venv/bin/python -m bench.run [--smoke]

Writes bench/RESULTS.md and bench/results.json. These are measurements, not tests:
nothing here asserts a timing.
"""

"""Benchmarks: figures side by side with a baseline or a peer tool, measured in the same run.

    python -m bench --scale small|wales [--json]

Never timed assertions: these print figures for docs/performance.md and the issue notes.
"""

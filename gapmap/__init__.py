"""The shell: the ``connectivity`` command line and the demo pipeline.

The top floor. It imports ``etl``, ``connectivity`` and ``webmap``; nothing imports it
except tests and benchmarks. ``gapmap.demodata`` generates the synthetic premises and releases.
"""

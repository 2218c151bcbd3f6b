"""Small job modules for the pipeline tests: pure Python (no JVM), each leaving a trace on disk.

Importable as ``pipeline_jobs.<name>`` with ``tests/framework/e2e`` on ``PYTHONPATH`` (subprocesses) or
``sys.path`` (in-process tests). Every job appends one JSON line to ``trace`` when it succeeds, so
a test can tell exactly which steps ran, for which date and in which mode.
"""

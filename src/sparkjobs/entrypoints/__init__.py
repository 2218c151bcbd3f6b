"""Thin platform entry points: each parses its platform's argument style, injects
``service_provider`` and ``has_spark``, and runs the job on the same path as ``sparkjobs run``
(:mod:`sparkjobs.executor`).

=================  ==========================================  ===========================
module             called as                                   service_provider
=================  ==========================================  ===========================
``container``      ``python -m sparkjobs.entrypoints.container``  container (Spark local mode)
``spark_submit``   ``spark-submit .../spark_submit.py``        spark-submit, emr, yarn, kubernetes
``databricks``     python_wheel_task / spark_python_task       databricks
``glue``           Glue job script / ``sparkjobs-glue``        glue
=================  ==========================================  ===========================

Besides the four platforms: :mod:`~sparkjobs.entrypoints.render` (a run as each platform's
arguments, and the seeds' ``scripts/<platform>/generic_entry.py`` files),
:mod:`~sparkjobs.entrypoints.glue_job` (Glue's ``Job.init``/``commit`` for bookmarks) and
:mod:`~sparkjobs.entrypoints.pyfiles` (a ``--py-files`` zip).

Importing this package never imports pyspark.
"""

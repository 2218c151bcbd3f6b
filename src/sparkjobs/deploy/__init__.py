"""Getting a project onto a cluster: the bundle of ``sparkjobs package``, the ``sparkjobs doctor`` preflight.

* :mod:`~sparkjobs.deploy.closure` — which installed distributions the project needs, and whether
  any has native code;
* :mod:`~sparkjobs.deploy.artifacts` — the files: wheels, ``--py-files`` zip, packed virtualenv,
  config bundle;
* :mod:`~sparkjobs.deploy.package` — the bundle as a whole, its manifest and its spark-submit command;
* :mod:`~sparkjobs.deploy.doctor` — a tiny job whose executor tasks import the job modules and report
  their Python, Spark and package versions, compared with the driver's.

Nothing here imports pyspark at module level: ``sparkjobs package`` never needs a JVM.
"""

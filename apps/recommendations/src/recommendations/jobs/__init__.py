"""The jobs of the reference application, one module each (module contract: ``main(**kwargs)``).

Registered in pyproject.toml under ``[project.entry-points."sparkjobs.jobs"]``; their parameters
live under ``jobs.<name>`` in conf/. Job modules import pyspark only inside functions, so
``sparkjobs list`` stays light.
"""

"""Online serving: what a long-running HTTP service needs from the framework.

* :mod:`sparkjobs.serving.stores` — the snapshot store: a set of tables loaded as one snapshot and
  swapped in atomically, SQLite and PostgreSQL behind one API (a building block: it imports no
  runner, no executor and no CLI);
* :mod:`sparkjobs.serving.registry` — the services registered in the entry-point group
  ``sparkjobs.services`` and how a name resolves to a factory;
* :mod:`sparkjobs.serving.service` — preparing a service (configuration layers, server settings)
  and running it under uvicorn.

The ``sparkjobs serve`` click command lives in :mod:`sparkjobs.cli.serve`; this package holds no CLI.
"""

"""``python -m sparkjobs.cli``: the ``sparkjobs`` command."""

from sparkjobs.cli import main

main()

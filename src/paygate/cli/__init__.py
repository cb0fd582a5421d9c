"""The ``paygate`` command: the demo, the simulators, the contract suite, the error guide and
the database migrations (``paygate --help``)."""

from paygate.cli._app import app, main

__all__ = ["app", "main"]

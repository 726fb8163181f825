"""The ``unisafe`` console script (report, compare, merge, validate, ...); never imports
pytest. ``main`` parses the command line (``main.py``); the run-folder commands are in
``runs.py``."""

from unisafe_pytest.cli.main import main

__all__ = ["main"]

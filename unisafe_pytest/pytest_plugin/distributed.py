"""pytest-xdist wiring on the controller, through xdist's public hooks only.

Registered only when xdist is installed (its hooks would be unknown otherwise): the run id
and folder go to the workers (``pytest_configure_node``); a worker's collection tells the
run what it set out to run, and is what the pre-flight counts (before xdist schedules
anything); a crashed worker's instance gets its record
(``pytest_handlecrashitem``).
"""

from __future__ import annotations

from typing import Any

import pytest

from unisafe_pytest.pytest_plugin.collection import Collection
from unisafe_pytest.pytest_plugin.identity import RUN_DIR_KEY, RUN_ID_KEY, RunIdentity
from unisafe_pytest.pytest_plugin.preflight import PreflightCheck
from unisafe_pytest.pytest_plugin.records import RecordsPlugin


class XdistHooks:
    """Controller-side xdist hooks."""

    def __init__(self, identity: RunIdentity, collection: Collection, records: RecordsPlugin,
                 preflight: PreflightCheck):
        self.identity = identity
        self.collection = collection
        self.records = records
        self.preflight = preflight

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[RUN_ID_KEY] = self.identity.run_id
        node.workerinput[RUN_DIR_KEY] = str(self.identity.run_dir)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.collection.note_to_run(ids)
        self.preflight.check_nodeids(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport,
                               sched: Any) -> None:
        message = str(report.longrepr).strip().splitlines()[0] if report.longrepr else ""
        self.records.write_crash(crashitem, message)

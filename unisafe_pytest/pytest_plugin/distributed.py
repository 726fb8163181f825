"""pytest-xdist wiring on the controller, through xdist's public hooks only.

Registered only when xdist is installed (its hooks would be unknown otherwise): the run id
and folder go to the workers (``pytest_configure_node``); a worker's collection tells the
run what it set out to run, and is what the pre-flight counts (before xdist schedules
anything); a crashed worker's instance gets its record
(``pytest_handlecrashitem``).

Scheduling: when the user gave no ``--dist`` (nor ``-d``), an active run under ``-n`` uses
``--dist worksteal`` instead of xdist's default ``load``, and the header says so. ``load``
hands each worker a short queue and tops it up one or two items at a time, so a worker's
prefetch pipeline (which starts the calls of the items queued to it) cannot get far ahead:
about 50 calls in flight at C = 128 on two workers, against about 88 with ``worksteal``,
which splits the items among the workers up front and moves the tail of a busy worker's
queue to an idle one. The worker prefetches only the half of its queue a steal never takes
(``workers.upcoming_indices``), so a stolen item's calls are not made twice. A ``--dist``
given on the command line, in ``addopts`` or ``PYTEST_ADDOPTS`` is kept as it is.
"""

from __future__ import annotations

from typing import Any

import pytest

from unisafe_pytest.pytest_plugin.collection import Collection
from unisafe_pytest.pytest_plugin.identity import RUN_DIR_KEY, RUN_ID_KEY, RunIdentity
from unisafe_pytest.pytest_plugin.preflight import PreflightCheck
from unisafe_pytest.pytest_plugin.records import RecordsPlugin
from unisafe_pytest.pytest_plugin.workers import DIST_KEY

DEFAULT_DIST = "worksteal"
"""The plugin's ``--dist`` under ``-n`` when the user chose none."""


def default_dist(config: pytest.Config) -> str | None:
    """``DEFAULT_DIST`` when xdist will distribute with its own default (``load``, set by
    ``-n``) and the user gave no ``--dist``/``-d``; ``None`` when their choice stands.

    The user's choice is read from what pytest parsed of the command line with ``addopts``
    and ``PYTEST_ADDOPTS`` before any plugin ran (``known_args_namespace``): xdist turns
    ``--dist no`` into ``load`` under ``-n`` in ``config.option``, not there.
    """
    if config.getoption("dist", "no") != "load" or not config.getoption("tx", None):
        return None
    given = getattr(config, "known_args_namespace", None)
    if getattr(given, "dist", "no") != "no" or getattr(given, "distload", False):
        return None
    return DEFAULT_DIST


class XdistHooks:
    """Controller-side xdist hooks."""

    def __init__(self, identity: RunIdentity, collection: Collection, records: RecordsPlugin,
                 preflight: PreflightCheck):
        self.identity = identity
        self.collection = collection
        self.records = records
        self.preflight = preflight
        self.dist_chosen = False
        """Whether the plugin set ``--dist`` (the user gave none)."""
        self.dist = "no"

    def pytest_configure(self, config: pytest.Config) -> None:
        # called when this object is registered, in the plugin's pytest_configure (historic)
        dist = default_dist(config)
        if dist is not None:
            config.option.dist = dist
            self.dist_chosen = True
        self.dist = str(config.getoption("dist", "no"))

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        dist = config.getoption("dist", "no")
        if dist == "no" or not config.getoption("tx", None):
            return None
        if self.dist_chosen:
            return (f"unisafe: xdist --dist {dist} (the plugin's default under -n: each "
                    "worker gets a long queue to prefetch from; give --dist to choose)")
        return f"unisafe: xdist --dist {dist} (given)"

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[RUN_ID_KEY] = self.identity.run_id
        node.workerinput[RUN_DIR_KEY] = str(self.identity.run_dir)
        node.workerinput[DIST_KEY] = self.dist

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.collection.note_to_run(ids)
        self.preflight.check_nodeids(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport,
                               sched: Any) -> None:
        message = str(report.longrepr).strip().splitlines()[0] if report.longrepr else ""
        self.records.write_crash(crashitem, message)

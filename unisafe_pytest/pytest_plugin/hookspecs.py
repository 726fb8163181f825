"""Every ``pytest_unisafe_*`` hook. Implement them in a conftest.py or a plugin.

Names start with ``pytest_`` because pytest silently ignores conftest hook functions
without that prefix. Factories are ``firstresult``: the first non-None answer wins, and the
built-in implementations run last, so a team's implementation takes precedence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from unisafe_pytest.adapters.base import Adapter
    from unisafe_pytest.judges.base import Judge
    from unisafe_pytest.schema import Instance, ModelOutput, Record, Verdict
    from unisafe_pytest.schema.tasks import TaskRegistry
    from unisafe_pytest.suites import LoadedSuite


@pytest.hookspec
def pytest_unisafe_register_tasks(registry: TaskRegistry, config: pytest.Config) -> None:
    """Add tasks (and modalities) to the registry before suites are loaded.

    :param registry: the task registry; call ``registry.add(Task(...))``, and
        ``registry.add_modality(ModalitySpec(...))`` first for a modality not built in
        (text, image, audio and video are).
    :param config: the pytest config.

    Example (conftest.py): a spoken request, one audio clip (and the text beside it) in,
    text out, judged with the text-to-text judge prompts; suite lines then carry
    ``"task": "SPOKEN", "audio": ["clips/q1.wav"]``::

        from unisafe_pytest.schema.tasks import Task

        def pytest_unisafe_register_tasks(registry):
            registry.add(Task(code="SPOKEN", name="spoken-request", protocol="unisafe",
                              inputs=frozenset({"text", "audio"}), output="text",
                              input_media=(("audio", 1),), judge_family="TT"))
    """


@pytest.hookspec
def pytest_unisafe_suites(config: pytest.Config) -> list[str] | None:
    """Return extra suite specs to run beside ``--unisafe-suite``.

    :param config: the pytest config.

    Example (conftest.py)::

        def pytest_unisafe_suites(config):
            return ["data/our_red_team.jsonl"]
    """


@pytest.hookspec(firstresult=True)
def pytest_unisafe_load_suite(
    spec: str, registry: TaskRegistry, config: pytest.Config
) -> LoadedSuite | None:
    """Load one suite spec; return None to let the next implementation try.

    :param spec: the suite spec (built-in name, path, ``hf:...``, or your own scheme).
    :param registry: the task registry, to resolve task codes.
    :param config: the pytest config.

    Example (conftest.py)::

        from unisafe_pytest.suites import LoadedSuite

        def pytest_unisafe_load_suite(spec, registry, config):
            if spec == "ours":
                return LoadedSuite(name="ours", kind="custom", protocol="unisafe",
                                   root=None, instances=[...], errors=[], files={})
    """


@pytest.hookspec(firstresult=True)
def pytest_unisafe_make_adapter(spec: str, config: pytest.Config) -> Adapter | None:
    """Build the model adapter for ``--unisafe-model=spec``; None lets the next one try.

    :param spec: the ``--unisafe-model`` value.
    :param config: the pytest config.

    Example (conftest.py)::

        def pytest_unisafe_make_adapter(spec, config):
            if spec == "our-model":
                return OurAdapter()
    """


@pytest.hookspec(firstresult=True)
def pytest_unisafe_make_judge(spec: str, config: pytest.Config) -> Judge | None:
    """Build the judge for one ``--unisafe-judge=spec``; None lets the next one try.

    :param spec: one ``--unisafe-judge`` value.
    :param config: the pytest config.

    Example (conftest.py)::

        def pytest_unisafe_make_judge(spec, config):
            if spec == "house-judge":
                return HouseJudge()
    """


@pytest.hookspec
def pytest_unisafe_verdict(
    instance: Instance, output: ModelOutput, verdict: Verdict, item: pytest.Item
) -> None:
    """Observe a verdict as soon as it is reached (in the process that ran the item).

    :param instance: the benchmark instance.
    :param output: what the model returned.
    :param verdict: the combined verdict.
    :param item: the pytest item.

    Example (conftest.py)::

        def pytest_unisafe_verdict(instance, verdict):
            if verdict.label == "unsafe":
                print("unsafe:", instance.id)
    """


@pytest.hookspec
def pytest_unisafe_record(record: Record, config: pytest.Config) -> None:
    """Observe a record after it is written (in the process that ran the item).

    :param record: the record, as written to the run directory.
    :param config: the pytest config.

    Example (conftest.py)::

        def pytest_unisafe_record(record):
            metrics_client.send(record.task, record.outcome)
    """


@pytest.hookspec
def pytest_unisafe_summary(
    records: list[Record], summary: dict[str, Any], config: pytest.Config
) -> list[str] | None:
    """Extend the end-of-run summary (controller only). Return lines to print, or None.

    :param records: every record of the run, merged.
    :param summary: the summary JSON (protocol block and metrics) written to summary.json;
        it may be amended in place before it is written.
    :param config: the pytest config.

    Example (conftest.py)::

        def pytest_unisafe_summary(records, summary):
            n = sum(r.outcome == "failed" for r in records)
            return [f"our gate: {n} unsafe"]
    """

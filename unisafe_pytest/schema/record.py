"""The per-instance record: everything needed to recompute every metric later.

Records are written one JSON line per instance by each process and merged by the
controller. Field order matters: ``schema_version`` comes first so readers can migrate.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from unisafe_pytest.errors import ErrorKind
from unisafe_pytest.schema.verdict import ProtocolName, Verdict

SCHEMA_VERSION = 1

Outcome = Literal["passed", "failed", "error", "skipped"]


class OutputSummary(BaseModel):
    """The model output as recorded (media by reference and hash, never pixels or samples)."""

    text: str | None = None
    images: list[dict[str, Any]] = Field(default_factory=list)
    """``{"ref": path relative to the run dir or source, "sha256": ..., "mime": ...}``; media
    other than images add ``"kind"`` (``audio``, ``video``...), and audio a ``"transcript"``
    when the provider sent one."""
    refusal: bool = False
    refusal_reason: str | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)


class Record(BaseModel):
    """One instance's result in one run."""

    schema_version: int = SCHEMA_VERSION
    """Version of this schema; older records are migrated on load."""
    run_id: str
    """Id of the run that produced the record."""
    suite: str
    protocol: ProtocolName
    """Benchmark protocol that aggregates this record."""
    model: str
    """Label of the model under test (the ``--unisafe-model`` value or fixture label)."""
    id: str
    task: str
    category: str
    subcategory: str = ""
    taxonomy: str = ""
    risky: bool = True
    twin: str | None = None
    sample: int = 0
    """Sample index (0 unless several generations per instance are drawn)."""
    nodeid: str = ""
    outcome: Outcome
    """The pytest outcome: passed (safe/refusal), failed (unsafe), error, skipped."""
    skip_reason: str | None = None
    error: str | None = None
    """Message of a model, judge or input error (the instance is unscored)."""
    error_kind: ErrorKind | None = None
    """Whose error it was (``errors.error_kind``): model, judge or internal."""
    verdict: Verdict | None = None
    output: OutputSummary | None = None
    prompt: str | None = None
    """What the model was asked: the instruction, then (multi-turn) each turn on a line of
    its own as ``turn N: ...``; control characters removed, cut at 20,000 characters."""
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    """Input media by reference and sha256 (media other than images add ``"kind"``)."""
    cache: dict[str, Any] = Field(default_factory=dict)
    """How the output was obtained: ``{"output": "hit" | "miss" | "off", "why": ...}``; on a
    miss, ``why`` says what changed since the instance's last stored entry."""
    worker: str = "main"
    duration_s: float | None = None
    timestamp: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("schema_version", SCHEMA_VERSION) > SCHEMA_VERSION:
            raise ValueError(
                f"record schema_version {data['schema_version']!r} is newer than this "
                f"unisafe-pytest understands ({SCHEMA_VERSION}); upgrade unisafe-pytest"
            )
        return data

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        return (self.model, self.suite, self.id, self.task, self.sample)


class RunProtocol(BaseModel):
    """The protocol block of a run: what makes numbers from two runs comparable."""

    run_id: str
    unisafe_pytest_version: str
    pytest_version: str
    code_revision: str | None = None
    """git revision of the project under test, when it is a git checkout."""
    model: str
    adapter: dict[str, Any] = Field(default_factory=dict)
    """Adapter kind, model id and generation settings (never secrets)."""
    suites: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per suite: source kind, benchmark, data file sha256s, instance count."""
    tasks: list[str] = Field(default_factory=list)
    judges: list[dict[str, Any]] = Field(default_factory=list)
    """Each judge's spec (id, kind, model, prompt hash, parser version)."""
    single_judge: bool = True
    screening_only: bool = False
    """True when only screening judges ran: the numbers are not a paper protocol."""
    refusal_policy: str = ""
    mt_protocol: str = ""
    it_prompt_policy: str = ""
    selection: dict[str, Any] = Field(default_factory=dict)
    """Task/category filters, limit, sample size and seed."""


DUPLICATE_LINES = "judges and counts every line"
"""The phrase of the replay error for several result lines of one item (Uni-SafeBench):
upstream's ``safety_checker.py`` counts each line, so under ``protocol=upstream`` the error
is one that upstream would have scored (``metrics/fail_open.py``)."""

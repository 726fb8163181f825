"""Pydantic models shared by every layer."""

from unisafe_pytest.schema.instance import Instance, Media, SourceRef
from unisafe_pytest.schema.output import ModelOutput, OutputProvenance
from unisafe_pytest.schema.record import (
    SCHEMA_VERSION,
    Outcome,
    OutputSummary,
    Record,
    RunProtocol,
)
from unisafe_pytest.schema.verdict import JudgeRow, JudgeSpec, Label, ProtocolName, Verdict

__all__ = [
    "SCHEMA_VERSION",
    "Instance",
    "JudgeRow",
    "JudgeSpec",
    "Label",
    "Media",
    "ModelOutput",
    "Outcome",
    "OutputProvenance",
    "OutputSummary",
    "ProtocolName",
    "Record",
    "RunProtocol",
    "SourceRef",
    "Verdict",
]

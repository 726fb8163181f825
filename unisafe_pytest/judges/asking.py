"""Asking a judge model for an answer in its protocol: parse strictly, re-ask a few times."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from unisafe_pytest.errors import JudgeError
from unisafe_pytest.judges.backends import ChatBackend, Message
from unisafe_pytest.judges.parsing import ParseFailure

T = TypeVar("T")


@dataclass(frozen=True)
class Asked(Generic[T]):
    value: T
    raw: str
    model_version: str | None
    attempts: int


def ask_parsed(
    backend: ChatBackend,
    messages: Sequence[Message],
    parse: Callable[[str], T],
    *,
    reasks: int,
    reask_text: Callable[[str], str],
    json_mode: bool,
) -> Asked[T]:
    """Ask, parse strictly, re-ask at most ``reasks`` times, then raise ``JudgeError``.

    A re-ask repeats the conversation with the bad answer and a note saying what was wrong.
    """
    conversation = list(messages)
    problems: list[str] = []
    last = ""
    for attempt in range(reasks + 1):
        reply = backend.complete(conversation, json_mode=json_mode)
        try:
            value = parse(reply.text)
        except ParseFailure as exc:
            problems.append(str(exc))
            conversation += [Message.text("assistant", reply.text),
                             Message.text("user", reask_text(str(exc)))]
            last = reply.text
            continue
        return Asked(value, reply.text, reply.model_version, attempt + 1)
    raise JudgeError(
        f"judge {backend.model!r} answered outside the protocol {reasks + 1} time(s): "
        f"{'; '.join(problems)}; last answer: {' '.join(last.split())[:300]!r}")

"""Reading a judge provider's reply: one whole, finished text answer, or a ``JudgeError``.

A judge's verdict is parsed out of its answer's text, so the text must be all of the answer.
The parts are read by the adapters' readers (:mod:`unisafe_pytest.adapters.readers`, the one
definition of a readable reply); a judge's reply is then stricter than a model's, since a
judge's answer is text only and a refusal is no verdict:

- exactly one ``choice`` / ``candidate`` (several could disagree; none is the first);
- a normal finish: ``finish_reason`` ``"stop"`` / ``finishReason`` ``"STOP"``. ``length`` /
  ``MAX_TOKENS`` (a cut answer), ``content_filter`` / ``SAFETY`` (a filtered one), a missing
  or unknown finish reason are errors;
- no refusal (``message.refusal``, a ``refusal`` content part, a prompt block);
- text parts only: tool or function calls, images, audio, unknown part types are errors
  (Gemini ``thought`` parts are reasoning, skipped).

The error is a ``JudgeError`` naming the reply's shape (keys and part types, never values),
so the call is retried and the instance ends as a JUDGE ERROR, never a verdict read from part
of an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unisafe_pytest.adapters.readers import read_gemini_candidate, read_openai_message
from unisafe_pytest.adapters.replies import Reading
from unisafe_pytest.errors import JudgeError

OPENAI_FINISH = "stop"
GEMINI_FINISH = "STOP"
FIX = ("check the judge server (a single answer, no tools, no refusal) and the judge's "
       "max_tokens option")


def _single(items: Any, what: str, model: str) -> Any:
    """The one answer of ``choices`` / ``candidates``; more or none is an error."""
    if not isinstance(items, list) or len(items) != 1:
        got = f"{len(items)} {what}" if isinstance(items, list) else f"no {what} list"
        raise JudgeError(f"judge {model!r} reply holds {got}, not one: a verdict is read only "
                         f"from a reply with a single answer; {FIX}")
    return items[0]


def _problems(reading: Reading, finish: Any, expected: str) -> list[str]:
    problems = [f"parts it cannot read ({'; '.join(reading.unreadable)})"] \
        if reading.unreadable else []
    if reading.signals:
        problems.append(f"a refusal or block signal ({', '.join(reading.signals)})")
    if finish != expected:
        cut = " (the answer was cut at max_tokens: raise the judge option max_tokens)" \
            if finish in ("length", "MAX_TOKENS") else ""
        problems.append(f"finish reason {finish!r}, not {expected!r}{cut}")
    return problems


def _raise(model: str, problems: list[str], shape: str) -> None:
    if problems:
        raise JudgeError(f"judge {model!r} gave no readable verdict: the reply has "
                         f"{'; '.join(problems)} ({shape}); a verdict is read only from one "
                         f"whole, finished text answer; {FIX}")


def openai_judge_text(reply: Mapping[str, Any], model: str) -> str:
    """The text of an OpenAI-compatible chat completion, read as described above."""
    choice = _single(reply.get("choices"), "choices", model)
    message = choice.get("message") if isinstance(choice, Mapping) else None
    if not isinstance(message, Mapping):
        raise JudgeError(f"judge {model!r} returned no message (reply keys {sorted(reply)}); "
                         f"{FIX}")
    finish = choice.get("finish_reason")
    reading, urls = read_openai_message(message, finish)
    if urls:
        reading.unreadable.append(f"{len(urls)} image part(s)")
    _raise(model, _problems(reading, finish, OPENAI_FINISH), reading.shape)
    if message.get("content") is None:
        raise JudgeError(f"judge {model!r} returned no message content ({reading.shape}); "
                         f"{FIX}")
    return "".join(reading.texts)


def gemini_judge_text(reply: Mapping[str, Any], model: str) -> str:
    """The text of a Gemini ``generateContent`` reply, read as described above."""
    blocked, _, _ = read_gemini_candidate(reply, None)
    if blocked.signals:
        _raise(model, _problems(blocked, GEMINI_FINISH, GEMINI_FINISH), blocked.shape)
    candidate = _single(reply.get("candidates"), "candidates", model)
    reading, _, parts = read_gemini_candidate(reply, candidate, media_kinds=())
    finish = candidate.get("finishReason") if isinstance(candidate, Mapping) else None
    _raise(model, _problems(reading, finish, GEMINI_FINISH), reading.shape)
    if not parts:
        raise JudgeError(f"judge {model!r} returned no candidate content ({reading.shape}); "
                         f"{FIX}")
    return "".join(reading.texts)

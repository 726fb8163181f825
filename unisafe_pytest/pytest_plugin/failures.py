"""How an instance's failure or error reads in pytest's report: the exception's text, every
character of it through the printing rule (:func:`~unisafe_pytest.runtime.verdict_text.shown`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from unisafe_pytest.runtime.verdict_text import MESSAGE_CHARS, shown

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr


def failure_repr(excinfo: pytest.ExceptionInfo[BaseException]) -> TerminalRepr:
    """The exception's text as the report body; its first line as the crash message.

    Both are shown through :func:`~unisafe_pytest.runtime.verdict_text.shown`, whatever the
    exception's text holds.
    """
    rep = excinfo.getrepr(style="value", chain=False)
    first = shown(str(excinfo.value).split("\n", 1)[0], MESSAGE_CHARS)
    crash = getattr(rep, "reprcrash", None)
    if crash is not None:
        crash.message = first
    for entry in getattr(getattr(rep, "reprtraceback", None), "reprentries", ()):
        lines = getattr(entry, "lines", None)
        if isinstance(lines, list):
            lines[:] = [shown(line, multiline=True) for line in lines]
    return rep

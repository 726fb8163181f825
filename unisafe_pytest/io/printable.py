"""The one rule for printing text that came from data: no character can drive a terminal.

Suite fields (ids, categories, prompts), judge rationales, model replies, file names and
record fields reach the terminal, JUnit, the CLI and the HTML report. Before any of them is
printed it goes through :func:`printable`, which shows every character that is not plain
visible text as its Python escape (``\\x1b``, ``\\x9b``, ``\\u202e``):

* C0 and C1 controls and DEL (Unicode category ``Cc``): ESC of ANSI sequences, the 8-bit
  CSI ``\\x9b``, carriage return, backspace, bell...;
* format characters (``Cf``): bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069),
  marks (U+200E, U+200F, U+061C), zero-width spaces, BOM; only the joiners U+200C/U+200D
  (part of emoji and of some scripts) are kept;
* line and paragraph separators (U+2028, U+2029) and lone surrogates.

A newline and a tab are kept only in multi-line text (``multiline=True``, where a ``\\r\\n``
line end also becomes ``\\n``); in one-line text (table cells, ids, names) they are escaped
too, so a value can never start a new line that looks like the tool's own. The result is
pure text (escaping is idempotent: a backslash is left as it is). :func:`printable_json`
applies the same rule to a JSON document, as JSON ``\\uXXXX`` escapes; :func:`echo` and
:func:`echo_json` are the ``unisafe`` command's only way to print.
"""

from __future__ import annotations

import sys
import unicodedata

_KEPT_FORMAT = frozenset("\u200c\u200d")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _unsafe(char: str, multiline: bool) -> bool:
    if " " <= char <= "~":
        return False
    if multiline and char in "\n\t":
        return False
    return unicodedata.category(char) in _UNSAFE_CATEGORIES and char not in _KEPT_FORMAT


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control, format and separator character shown as its escape."""
    if text.isprintable():
        return text
    if multiline:
        text = text.replace("\r\n", "\n")
    return "".join(_escape(c) if _unsafe(c, multiline) else c for c in text)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def printable_json(text: str) -> str:
    """A JSON document (as ``json.dumps`` writes it) with the same characters escaped.

    ``json.dumps`` already escapes C0 controls, so what is left of them sits inside strings,
    where a ``\\uXXXX`` escape keeps the document valid JSON with the same value.
    """
    if text.isprintable():
        return text
    return "".join(_json_escape(c) if _unsafe(c, True) else c for c in text)


def echo(text: str, *, stderr: bool = False) -> None:
    """Print ``text`` (any number of lines) through :func:`printable`: the CLI's one printer."""
    print(printable(text, multiline=True), file=sys.stderr if stderr else sys.stdout)


def echo_json(text: str) -> None:
    """Print a JSON document through :func:`printable_json` (still valid, same value)."""
    print(printable_json(text))

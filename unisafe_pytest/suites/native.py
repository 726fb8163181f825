"""The native suite format: one JSON object per line (JSONL), UTF-8.

An optional first line describes the suite::

    {"unisafe_suite": {"name": "smoke", "protocol": "unisafe", "taxonomy": "unisafe-text",
                       "description": "...", "version": "1"}}

Every key of the header is optional. ``name`` (letters, digits, ``_`` and ``-``) defaults to
the file name without ``.jsonl`` (other characters replaced by ``_``); ``protocol``
(``"unisafe"`` or ``"unisafebench"``) defaults to the protocol of the tasks; ``taxonomy`` is
the default taxonomy of the lines.

Every other line is one instance:

==================  ========  ======================================================
field               required  meaning
==================  ========  ======================================================
``id``              yes       string or integer (stored as a string); the key of an
                              instance is ``(id, task)``, so one id may appear once
                              per task (the shared-target design)
``task``            yes       task code or alias (``TI``, ``TT``, ``TextGen``...)
``category``        yes       top-level risk category, e.g. ``"Hate"``
``subcategory``     no        subcategory code of the taxonomy, e.g. ``"H1"``
``instruction``     no        the request; required unless the task has input
                              media or turns
``turns``           no        list of strings; exactly 4 for ``MT``, absent otherwise
``images``          no        list of image paths relative to this file's folder;
                              exactly as many as the task takes (IE/IT/MU 1, IC 2)
``audio``           no        list of audio paths (WAV, MP3, FLAC, OGG) relative to
                              this file's folder, for tasks that take audio
``video``           no        list of video paths (MP4, WebM), for tasks that take video
``media``           no        object: modality name -> list of paths, for modalities
                              a hook registered (``{"pointcloud": ["a.ply"]}``)
``target``          no        description of the intended unsafe output (judge context)
``unsafe_trigger``  no        what makes the request unsafe
``risky``           no        ``true`` (default) or ``false`` for a benign control
``twin``            no        id of the paired instance of the same task (a risky
                              instance's benign twin, and back)
``taxonomy``        no        taxonomy of the codes; defaults to the header's, else
                              ``unisafe-image`` (TI/IE/IC/MT), ``unisafe-text``
                              (TT/IT/MU) or ``unisafebench``
``intention``       no        extracted malicious intention (Uni-SafeBench judging)
``metadata``        no        object; anything else you want kept in the records
==================  ========  ======================================================

Unknown fields are errors (with the closest known field suggested). All lines must use
tasks of one protocol. Blank lines are ignored. Example::

    {"id": "demo-1", "task": "TT", "category": "Hate", "subcategory": "H1",
     "instruction": "...", "target": "...", "twin": "demo-1-b"}
    {"id": "demo-1-b", "task": "TT", "category": "Hate", "subcategory": "H1",
     "instruction": "...", "risky": false, "twin": "demo-1"}
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import short_repr
from unisafe_pytest.schema import Instance, SourceRef
from unisafe_pytest.schema.tasks import Task, TaskRegistry
from unisafe_pytest.suites.fields import (
    check_image_count,
    check_turns,
    default_taxonomy,
    get_bool,
    get_dict,
    get_id,
    get_opt_id,
    get_opt_str,
    get_str,
    get_str_list,
    get_task,
    require,
)
from unisafe_pytest.suites.media import MediaResolver
from unisafe_pytest.suites.reader import JsonlFile

ProtocolName = Literal["unisafe", "unisafebench"]

HEADER_KEY = "unisafe_suite"
HEADER_FIELDS = ("name", "protocol", "taxonomy", "description", "version")
FIELDS = (
    "id", "task", "category", "subcategory", "instruction", "turns", "images", "target",
    "unsafe_trigger", "risky", "twin", "taxonomy", "intention", "metadata", "audio", "video",
    "media",
)
_FIELD_SET = frozenset(FIELDS)
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Header:
    """The optional first line of a native (or UniSAFE export) file."""

    name: str | None = None
    protocol: ProtocolName | None = None
    taxonomy: str | None = None
    description: str = ""
    version: str = ""


def parse_header(obj: dict[str, Any], display: str, line: int) -> Header | None:
    """The header if ``obj`` is one (its only key is ``unisafe_suite``), else None.

    A malformed header is a whole-suite error: the lines after it cannot be read without it.
    """
    if HEADER_KEY not in obj:
        return None
    if len(obj) != 1:
        extra = sorted(k for k in obj if k != HEADER_KEY)
        raise SuiteError(
            f"the header line has keys {extra!r} beside {HEADER_KEY!r}; put suite settings "
            f"inside {HEADER_KEY!r} and instances on the following lines",
            display,
            line,
        )
    body = obj[HEADER_KEY]
    if not isinstance(body, dict):
        raise SuiteError(
            f"{HEADER_KEY!r} must be an object, got {short_repr(body)}; "
            'write {"unisafe_suite": {"name": ..., "protocol": ...}}',
            display,
            line,
        )
    try:
        for key in body:
            if key not in HEADER_FIELDS:
                raise SuiteError(_unknown_field(key, HEADER_FIELDS, "header field"))
        header = Header(
            name=get_opt_str(body, "name"),
            protocol=None,
            taxonomy=get_opt_str(body, "taxonomy"),
            description=get_str(body, "description"),
            version=get_str(body, "version"),
        )
        protocol = get_opt_str(body, "protocol")
    except SuiteError as exc:
        raise SuiteError(exc.message, display, line) from None
    if header.name is not None and not _NAME.match(header.name):
        raise SuiteError(
            f"suite name {header.name!r} may only contain letters, digits, '_' and '-' "
            f"(it appears in node ids); try {sanitize_name(header.name)!r}",
            display,
            line,
        )
    if protocol is not None:
        if protocol not in ("unisafe", "unisafebench"):
            raise SuiteError(
                f"header protocol {protocol!r} is unknown; use 'unisafe' or 'unisafebench'",
                display,
                line,
            )
        header.protocol = cast(ProtocolName, protocol)
    return header


def sanitize_name(text: str) -> str:
    """A suite name for node ids: characters other than ``[A-Za-z0-9_-]`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "suite"


def _unknown_field(key: str, known: tuple[str, ...], what: str = "field") -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {what} {key!r}; {hint}known fields: {', '.join(known)}"


class NativeBuilder:
    """Builds :class:`Instance` objects from native records of one file."""

    def __init__(
        self,
        file: JsonlFile,
        tasks: TaskRegistry,
        resolver: MediaResolver,
        suite: str,
        header: Header,
    ) -> None:
        self.file = file
        self.tasks = tasks
        self.resolver = resolver
        self.suite = suite
        self.header = header
        self.protocol: ProtocolName | None = header.protocol
        self._protocol_line = 0

    def __call__(self, obj: dict[str, Any], line: int) -> Instance:
        if not obj.keys() <= _FIELD_SET:
            for key in obj:
                if key not in _FIELD_SET:
                    raise SuiteError(_unknown_field(key, FIELDS))
        ident = get_id(obj)
        task = get_task(self.tasks, require(obj, "task", "a task code such as 'TT'"))
        self._check_protocol(task.protocol, task.code)
        category = get_str(obj, "category", required=True)
        instruction = get_str(obj, "instruction")
        turns = get_str_list(obj, "turns")
        check_turns(task, turns)
        refs = get_str_list(obj, "images")
        check_image_count(task, len(refs), "'images'")
        clips = self._clip_refs(obj, task)
        if not task.turns and not task.input_images and not clips and not instruction.strip():
            raise SuiteError(
                f"task {task.code} has no input media or turns, so 'instruction' must be "
                f"a non-empty string, got {instruction!r}; write the request"
            )
        images = [self.resolver.resolve(ref) for ref in refs]
        images += [self.resolver.resolve(ref, self.tasks.modality(kind)) for kind, ref in clips]
        twin = get_opt_id(obj, "twin")
        if twin is not None and twin == ident:
            raise SuiteError(
                f"field 'twin' is the instance's own id {twin!r}; give the paired instance's id"
            )
        taxonomy = get_opt_str(obj, "taxonomy") or self.header.taxonomy
        instance = Instance(
            suite=self.suite,
            id=ident,
            task=task.code,
            category=category,
            subcategory=get_str(obj, "subcategory"),
            taxonomy=taxonomy or default_taxonomy(task),
            instruction=instruction,
            turns=turns,
            images=images,
            target=get_opt_str(obj, "target"),
            unsafe_trigger=get_opt_str(obj, "unsafe_trigger"),
            intention=get_opt_str(obj, "intention"),
            risky=get_bool(obj, "risky", True),
            twin=twin,
            metadata=get_dict(obj, "metadata"),
            source=SourceRef(file=self.file.display, line=line),
        )
        if self.protocol is None:
            self.protocol = task.protocol
            self._protocol_line = line
        return instance

    def _clip_refs(self, obj: dict[str, Any], task: Task) -> list[tuple[str, str]]:
        """``(modality, path)`` of the record's non-image media, checked against the task's
        counts: ``audio`` and ``video`` fields, then the ``media`` object."""
        by_kind: dict[str, list[str]] = {}
        for kind in ("audio", "video"):
            if kind in obj:
                by_kind[kind] = get_str_list(obj, kind)
        extra = get_dict(obj, "media")
        for kind in extra:
            if kind in ("image", "images", "text"):
                raise SuiteError(f"'media' holds {kind!r}; give images in 'images' (text is "
                                 "the instruction), and other modalities by name")
            if kind in by_kind:
                raise SuiteError(f"{kind!r} is given both as a field and inside 'media'; "
                                 "give it once")
            if kind not in self.tasks.modalities:
                raise SuiteError(
                    f"'media' names modality {kind!r}, which is not registered (known: "
                    f"{', '.join(self.tasks.modalities)}); register it in "
                    "pytest_unisafe_register_tasks or fix the name")
            by_kind[kind] = get_str_list(extra, kind)
        for kind in sorted({*by_kind, *task.media_inputs} - {"image"}):
            count = len(by_kind.get(kind, []))
            wanted = task.input_count(kind)
            if wanted >= 0 and count != wanted:
                field_name = kind if kind in ("audio", "video") else f"media.{kind}"
                raise SuiteError(
                    f"task {task.code} ({task.name}) takes {wanted} input {kind} file(s), got "
                    f"{count} in {field_name!r}; give exactly {wanted}")
        return [(kind, ref) for kind, refs in by_kind.items() for ref in refs]

    def _check_protocol(self, protocol: ProtocolName, code: str) -> None:
        if self.protocol is not None and protocol != self.protocol:
            origin = (
                "the header"
                if self.header.protocol is not None
                else f"line {self._protocol_line}"
            )
            raise SuiteError(
                f"task {code!r} belongs to protocol {protocol!r}, but this suite is "
                f"{self.protocol!r} (set by {origin}); split the two benchmarks into "
                "separate suite files"
            )

"""The task registry: each task's code, benchmark, input and output modalities.

A task code is what appears in node ids (``<suite>::<TASK>::<id>``) and markers
(``unisafe_task_<TASK>``), so codes are restricted to ``[A-Za-z][A-Za-z0-9_]*``.
New tasks come in through the ``pytest_unisafe_register_tasks`` hook.

Modalities are data (:mod:`unisafe_pytest.schema.modalities`): ``text``, ``image``, ``audio`` and
``video`` are built in, and the same hook adds more with ``registry.add_modality(...)``. A
task declares the modalities it reads (``inputs``) and the one it must produce (``output``,
the judged part), and how many media of each kind go in (``input_images`` for images,
``input_media`` for the others) and come out (``output_images``, ``output_media``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from unisafe_pytest.errors import ConfigError
from unisafe_pytest.schema.modalities import BUILTIN_MODALITIES, ModalitySpec
from unisafe_pytest.schema.modalities import Modality as Modality

Protocol = Literal["unisafe", "unisafebench"]

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Task:
    """One input/output combination of a benchmark."""

    code: str
    """Short code used in node ids and markers, e.g. ``"TI"``."""
    name: str
    """Human name, e.g. ``"text-to-image"``."""
    protocol: Protocol
    """Which benchmark protocol judges and aggregates it."""
    inputs: frozenset[Modality]
    """Modalities the model reads."""
    output: Modality
    """Modality the model must produce (the judged part)."""
    input_images: int = 0
    """Exactly how many input images an instance carries (``-1``: any number)."""
    turns: int = 0
    """Number of turns for multi-turn tasks (0: single turn)."""
    output_images: int = 0
    """How many images the model must return (MT: one per turn)."""
    judge_family: str = ""
    """Which prompt family of the protocol's judge applies."""
    aliases: tuple[str, ...] = field(default=())
    """Other spellings accepted in suite files."""
    input_media: tuple[tuple[Modality, int], ...] = field(default=())
    """How many input media of each non-image kind an instance carries, e.g.
    ``(("audio", 1),)`` (``-1``: any number). A media input modality not listed takes
    exactly one."""
    output_media: tuple[tuple[Modality, int], ...] = field(default=())
    """How many media of each non-image kind the model must return (default: one of the
    output modality when it is a media kind other than image)."""

    def input_count(self, kind: Modality) -> int:
        """Exactly how many input media of ``kind`` an instance carries (``-1``: any)."""
        if kind == "image":
            return self.input_images
        for name, count in self.input_media:
            if name == kind:
                return count
        return 1 if kind in self.inputs and kind != "text" else 0

    def output_count(self, kind: Modality) -> int:
        """How many media of ``kind`` the model must return."""
        if kind == "image":
            return self.output_images
        for name, count in self.output_media:
            if name == kind:
                return count
        return 1 if kind == self.output and kind != "text" else 0

    @property
    def media_inputs(self) -> tuple[Modality, ...]:
        """The media kinds (not text) this task reads, sorted."""
        return tuple(sorted(k for k in self.inputs if k != "text"))


def _t(
    code: str,
    name: str,
    protocol: Protocol,
    inputs: Iterable[Modality],
    output: Modality,
    *,
    input_images: int = 0,
    turns: int = 0,
    output_images: int | None = None,
    judge_family: str = "",
    aliases: tuple[str, ...] = (),
) -> Task:
    if output_images is None:
        output_images = (turns or 1) if output == "image" else 0
    return Task(
        code=code,
        name=name,
        protocol=protocol,
        inputs=frozenset(inputs),
        output=output,
        input_images=input_images,
        turns=turns,
        output_images=output_images,
        judge_family=judge_family or code,
        aliases=aliases,
    )


BUILTIN_TASKS: tuple[Task, ...] = (
    # UniSAFE: the seven I/O combinations (code = the dataset's scenario_type).
    _t("TI", "text-to-image", "unisafe", ["text"], "image"),
    _t("IE", "image editing", "unisafe", ["text", "image"], "image", input_images=1),
    _t("IC", "image composition", "unisafe", ["text", "image"], "image", input_images=2),
    _t("MT", "multi-turn editing", "unisafe", ["text"], "image", turns=4),
    _t("TT", "text-to-text", "unisafe", ["text"], "text"),
    _t("IT", "image-to-text", "unisafe", ["text", "image"], "text", input_images=1),
    _t("MU", "multimodal understanding", "unisafe", ["text", "image"], "text", input_images=1),
    # Uni-SafeBench: seven tasks.
    _t(
        "TextGen",
        "malicious text generation",
        "unisafebench",
        ["text"],
        "text",
        judge_family="text",
        aliases=("Text Generation",),
    ),
    _t("T2I", "unsafe text-to-image generation", "unisafebench", ["text"], "image",
       judge_family="image"),
    _t(
        "Edit",
        "malicious image editing",
        "unisafebench",
        ["text", "image"],
        "image",
        input_images=1,
        judge_family="image",
        aliases=("Text-Guided Image Editing",),
    ),
    _t("DualVQA", "dual-unsafe VQA", "unisafebench", ["text", "image"], "text", input_images=1,
       judge_family="text", aliases=("unsafety_I_unsafety_T",)),
    _t("ImageVQA", "image-unsafe VQA", "unisafebench", ["text", "image"], "text",
       input_images=1, judge_family="text", aliases=("unsafety_I_safety_T",)),
    _t("TextVQA", "text-unsafe VQA", "unisafebench", ["text", "image"], "text",
       input_images=1, judge_family="text", aliases=("safety_I_unsafety_T",)),
    _t("CompositeVQA", "composite-unsafe VQA", "unisafebench", ["text", "image"], "text",
       input_images=1, judge_family="text", aliases=("safety_I_safety_T",)),
    # Our own modality tasks (not in the paper): the request spoken or filmed, text out,
    # judged as UniSAFE's text tasks are (the built-in smoke-audio suite uses AT).
    _t("AT", "audio-to-text", "unisafe", ["text", "audio"], "text", judge_family="TT"),
    _t("VT", "video-to-text", "unisafe", ["text", "video"], "text", judge_family="TT"),
)


class TaskRegistry:
    """Tasks by code (and alias), and the modalities they use. Built-ins first; the
    ``pytest_unisafe_register_tasks`` hook may add more of both."""

    def __init__(self, tasks: Iterable[Task] = BUILTIN_TASKS,
                 modalities: Iterable[ModalitySpec] = BUILTIN_MODALITIES) -> None:
        self._by_code: dict[str, Task] = {}
        self._by_alias: dict[str, Task] = {}
        self.modalities: dict[str, ModalitySpec] = {}
        for spec in modalities:
            self.add_modality(spec)
        for task in tasks:
            self.add(task)

    def add_modality(self, spec: ModalitySpec) -> None:
        """Register a modality (its name, and the file formats a suite may reference)."""
        known = self.modalities.get(spec.name)
        if known is not None and known != spec:
            raise ConfigError(
                f"modality {spec.name!r} is registered twice with different definitions: "
                f"{known!r} and {spec!r}"
            )
        self.modalities[spec.name] = spec

    def modality(self, name: str) -> ModalitySpec:
        """The registered modality ``name``; ``ConfigError`` naming the known ones if none."""
        spec = self.modalities.get(name)
        if spec is None:
            raise ConfigError(
                f"modality {name!r} is not registered (known: {', '.join(self.modalities)}); "
                "register it in pytest_unisafe_register_tasks with "
                "registry.add_modality(ModalitySpec(...)) before a task uses it"
            )
        return spec

    def add(self, task: Task) -> None:
        for kind in sorted({*task.inputs, task.output,
                            *(k for k, _ in (*task.input_media, *task.output_media))}):
            if kind not in self.modalities:
                raise ConfigError(
                    f"task {task.code!r} uses modality {kind!r}, which is not registered "
                    f"(known: {', '.join(self.modalities)}); register it first with "
                    "registry.add_modality(ModalitySpec(...))"
                )
        for kind, count in (*task.input_media, *task.output_media):
            if kind in ("text", "image") or not isinstance(count, int) or count < -1:
                raise ConfigError(
                    f"task {task.code!r}: media count ({kind!r}, {count!r}) is not allowed; "
                    "give a non-text, non-image modality and a count >= 0 (-1: any); image "
                    "counts go in input_images / output_images"
                )
        if not _CODE.match(task.code):
            raise ConfigError(
                f"task code {task.code!r} is not allowed: codes appear in node ids and markers, "
                "so use letters, digits and underscores, starting with a letter"
            )
        known = self._by_code.get(task.code)
        if known is not None and known != task:
            raise ConfigError(
                f"task {task.code!r} is registered twice with different definitions: "
                f"{known!r} and {task!r}"
            )
        self._by_code[task.code] = task
        for alias in task.aliases:
            self._by_alias[alias] = task

    def get(self, code: str) -> Task | None:
        return self._by_code.get(code) or self._by_alias.get(code)

    def __getitem__(self, code: str) -> Task:
        task = self.get(code)
        if task is None:
            raise KeyError(code)
        return task

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.get(code) is not None

    def __iter__(self) -> Iterator[Task]:
        return iter(self._by_code.values())

    def codes(self, protocol: Protocol | None = None) -> list[str]:
        return [t.code for t in self if protocol is None or t.protocol == protocol]


UNISAFE_TASK_CODES = ("TI", "IE", "IC", "MT", "TT", "IT", "MU")
UNISAFEBENCH_TASK_CODES = (
    "TextGen", "T2I", "Edit", "DualVQA", "ImageVQA", "TextVQA", "CompositeVQA",
)
_TASK_ORDER = {task.code: n for n, task in enumerate(BUILTIN_TASKS)}


def task_order(code: str) -> tuple[int, str]:
    """The one sort key of task codes (tables, reports, comparisons): the built-in tasks in
    :data:`BUILTIN_TASKS` order (UniSAFE's, then Uni-SafeBench's, then the extra ones), then
    any other task by code."""
    return (_TASK_ORDER.get(code, len(_TASK_ORDER)), code)


_UNISAFEBENCH_TITLES = {
    "malicious text generation": "TextGen",
    "unsafe t2i generation": "T2I",
    "malicious image editing": "Edit",
    "dual-unsafe vqa": "DualVQA",
    "image-unsafe vqa": "ImageVQA",
    "text-unsafe vqa": "TextVQA",
    "composite-unsafe vqa": "CompositeVQA",
}


def task_from_name(name: str, registry: TaskRegistry | None = None) -> str | None:
    """The Uni-SafeBench task code a name stands for (code, alias or title), if any."""
    registry = registry or TaskRegistry()
    task = registry.get(name)
    if task is not None and task.protocol == "unisafebench":
        return task.code
    lowered = name.strip().lower()
    for other in registry:
        if other.protocol != "unisafebench":
            continue
        if lowered in {other.code.lower(), *(a.lower() for a in other.aliases)}:
            return other.code
    return _UNISAFEBENCH_TITLES.get(lowered)


def task_from_path(path: Path) -> str | None:
    """The task named by the file name or its nearest folder that names one."""
    registry = TaskRegistry()
    for part in [path.stem, *(p.name for p in path.parents)]:
        code = task_from_name(part, registry)
        if code is not None:
            return code
    return None

"""Uni-SafeBench input records, from the upstream directory layout (or the HF dataset).

A suite directory holds any subset of the upstream task files::

    Text Generation/inputs.jsonl                    -> TextGen
    T2I/input.jsonl                                 -> T2I
    Text-Guided Image Editing/input.jsonl           -> Edit
    VQA/unsafety_I_unsafety_T/input.jsonl           -> DualVQA
    VQA/unsafety_I_safety_T/input.jsonl             -> ImageVQA
    VQA/safety_I_unsafety_T/input.jsonl             -> TextVQA
    VQA/safety_I_safety_T/input.jsonl               -> CompositeVQA

Each line is ``{"id": int|str, "prompt": str, "image": str, "category": str}`` plus an
optional ``intention`` (str); other fields are kept in ``metadata``. Ids are compared as
strings. ``image`` is required for the image-input tasks (Edit and the four VQA tasks) and
ignored for TextGen and T2I (kept in ``metadata["image"]`` when non-empty).

**Image root.** Image paths are relative to ``<dir>/images`` when that folder exists, and to
``<dir>`` itself otherwise; either way they may not leave that folder.

**Suite name.** ``unisafebench`` when the folder's name is a spelling of it (``Uni-SafeBench``,
``uni_safebench``...), otherwise the folder name with characters outside ``[A-Za-z0-9_-]``
replaced by ``_``. The taxonomy of every instance is ``unisafebench``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.schema import Instance, SourceRef
from unisafe_pytest.schema.tasks import Task, TaskRegistry
from unisafe_pytest.suites.fields import get_id, get_opt_str, get_str
from unisafe_pytest.suites.media import MediaResolver
from unisafe_pytest.suites.native import sanitize_name
from unisafe_pytest.suites.reader import RecordSink, display_path, read_jsonl
from unisafe_pytest.suites.suite import LoadedSuite

LAYOUT: tuple[tuple[str, str], ...] = (
    ("Text Generation/inputs.jsonl", "TextGen"),
    ("T2I/input.jsonl", "T2I"),
    ("Text-Guided Image Editing/input.jsonl", "Edit"),
    ("VQA/unsafety_I_unsafety_T/input.jsonl", "DualVQA"),
    ("VQA/unsafety_I_safety_T/input.jsonl", "ImageVQA"),
    ("VQA/safety_I_unsafety_T/input.jsonl", "TextVQA"),
    ("VQA/safety_I_safety_T/input.jsonl", "CompositeVQA"),
)
"""Upstream data file (relative to the suite directory) → task code."""

FIELDS = ("id", "prompt", "image", "category", "intention")
_FIELD_SET = frozenset(FIELDS)
DEFAULT_NAME = "unisafebench"


def is_unisafebench_dir(directory: Path) -> bool:
    """Whether ``directory`` holds at least one upstream task file."""
    return any((directory / rel).exists() for rel, _ in LAYOUT)


def suite_name_for(directory: Path) -> str:
    name = directory.resolve().name
    if re.sub(r"[^a-z0-9]", "", name.lower()) in ("", DEFAULT_NAME):
        return DEFAULT_NAME
    return sanitize_name(name)


def image_root(directory: Path) -> Path:
    images = directory / "images"
    return images if images.is_dir() else directory


class BenchBuilder:
    """Builds instances of one task from Uni-SafeBench records."""

    def __init__(self, task: Task, resolver: MediaResolver, suite: str, source: str) -> None:
        self.task = task
        self.resolver = resolver
        self.suite = suite
        self.source = source

    def __call__(self, obj: dict[str, Any], line: int) -> Instance:
        task = self.task
        ident = get_id(obj)
        prompt = get_str(obj, "prompt", required=True)
        category = get_str(obj, "category", required=True)
        image = get_opt_str(obj, "image")
        extra = {k: v for k, v in obj.items() if k not in _FIELD_SET}
        images = []
        if task.input_images:
            if not image:
                raise SuiteError(
                    f"task {task.code} ({task.name}) takes an input image, but 'image' is "
                    f"{image!r}; give the image path relative to the image root "
                    f"{self.resolver.root.name!r}"
                )
            images.append(self.resolver.resolve(image))
        elif image:
            extra["image"] = image
        return Instance(
            suite=self.suite,
            id=ident,
            task=task.code,
            category=category,
            taxonomy="unisafebench",
            instruction=prompt,
            images=images,
            intention=get_opt_str(obj, "intention"),
            metadata=extra,
            source=SourceRef(file=self.source, line=line),
        )


def load_directory(
    directory: Path,
    tasks: TaskRegistry,
    *,
    base_dir: Path,
    max_image_bytes: int | None = None,
) -> LoadedSuite:
    """Load every upstream task file present under ``directory``."""
    root = image_root(directory)
    hint = "the 'images' folder" if root != directory else "the suite folder"
    resolver = MediaResolver(root, max_bytes=max_image_bytes, root_hint=hint)
    suite = suite_name_for(directory)
    sink = RecordSink()
    files: dict[str, str] = {}
    for rel, code in LAYOUT:
        path = directory / rel
        if not path.exists():
            continue
        task = tasks.get(code)
        if task is None:
            raise SuiteError(
                f"task {code!r} is not registered; it is a built-in task, so pass a "
                "TaskRegistry that includes the built-ins",
                display_path(path, base_dir),
            )
        file = read_jsonl(path, display_path(path, base_dir))
        files[rel] = file.sha256
        sink.load(file, BenchBuilder(task, resolver, suite, file.display))
    if not files:
        expected = ", ".join(repr(rel) for rel, _ in LAYOUT)
        raise SuiteError(
            f"directory holds no Uni-SafeBench task file; expected any of {expected}",
            display_path(directory, base_dir),
        )
    return LoadedSuite(
        name=suite,
        kind="unisafebench-dir",
        protocol="unisafebench",
        root=root,
        instances=sink.instances,
        errors=sink.errors,
        files=files,
    )

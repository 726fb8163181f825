"""UniSAFE case records (a local JSONL export, or rows of the Hugging Face dataset).

A record has the upstream columns ``id``, ``category``, ``subcategory``, ``unsafe_trigger``,
``target``, ``scenario_type``, ``instruction``, ``input_image``, ``input_image_b`` and
``turns``. They map onto :class:`~unisafe_pytest.schema.Instance` as follows:

* ``scenario_type`` → ``task`` (one of TI IE IC MT TT IT MU);
* ``input_image`` then ``input_image_b`` → ``images`` (``null`` skipped). A value is a path
  relative to the JSONL file's folder, ``{"path": ...}``, or ``{"bytes": "<base64>"}``;
* ``taxonomy`` is ``unisafe-image`` for TI/IE/IC/MT and ``unisafe-text`` for TT/IT/MU (the
  subcategory codes are split-specific);
* any other column is kept in ``metadata``.

Required: ``id``, ``scenario_type``, ``category``. ``MT`` needs exactly 4 ``turns``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import short_repr
from unisafe_pytest.schema import Instance, Media, SourceRef
from unisafe_pytest.schema.tasks import UNISAFE_TASK_CODES, TaskRegistry
from unisafe_pytest.suites.fields import (
    check_image_count,
    check_turns,
    default_taxonomy,
    get_id,
    get_opt_str,
    get_str,
    get_str_list,
    get_task,
    require,
    wrong_type,
)
from unisafe_pytest.suites.media import MediaResolver, media_from_bytes

COLUMNS = (
    "id", "category", "subcategory", "unsafe_trigger", "target", "scenario_type",
    "instruction", "input_image", "input_image_b", "turns",
)
IMAGE_COLUMNS = ("input_image", "input_image_b")
_COLUMN_SET = frozenset(COLUMNS)


class UnisafeBuilder:
    """Builds instances from UniSAFE case records read from one source."""

    def __init__(
        self,
        tasks: TaskRegistry,
        resolver: MediaResolver,
        suite: str,
        source: str,
        *,
        label: str = "",
    ) -> None:
        self.tasks = tasks
        self.resolver = resolver
        self.suite = suite
        self.source = source  # file or dataset label named in SourceRef
        self.label = label or source

    def __call__(self, obj: dict[str, Any], line: int) -> Instance:
        ident = get_id(obj)
        task = get_task(
            self.tasks, require(obj, "scenario_type", "one of " + ", ".join(UNISAFE_TASK_CODES)),
            "scenario_type",
        )
        if task.protocol != "unisafe":
            raise SuiteError(
                f"scenario_type {task.code!r} is not a UniSAFE task; UniSAFE tasks: "
                f"{', '.join(UNISAFE_TASK_CODES)}"
            )
        category = get_str(obj, "category", required=True)
        turns = get_str_list(obj, "turns")
        check_turns(task, turns)
        present = [(col, obj[col]) for col in IMAGE_COLUMNS if obj.get(col) is not None]
        check_image_count(task, len(present), "'input_image'/'input_image_b'")
        instruction = get_str(obj, "instruction")
        if not task.turns and not task.input_images and not instruction.strip():
            raise SuiteError(
                f"task {task.code} has no input image or turns, so 'instruction' must be "
                f"a non-empty string, got {instruction!r}; write the request"
            )
        images = [self._media(col, value, line) for col, value in present]
        extra = {k: v for k, v in obj.items() if k not in _COLUMN_SET}
        return Instance(
            suite=self.suite,
            id=ident,
            task=task.code,
            category=category,
            subcategory=get_str(obj, "subcategory"),
            taxonomy=default_taxonomy(task),
            instruction=instruction,
            turns=turns,
            images=images,
            target=get_opt_str(obj, "target"),
            unsafe_trigger=get_opt_str(obj, "unsafe_trigger"),
            metadata=extra,
            source=SourceRef(file=self.source, line=line),
        )

    def _media(self, column: str, value: object, line: int) -> Media:
        if isinstance(value, str):
            return self.resolver.resolve(value)
        if isinstance(value, dict):
            path = value.get("path")
            data = value.get("bytes")
            if isinstance(data, str):
                try:
                    raw = base64.b64decode(data, validate=True)
                except (binascii.Error, ValueError):
                    raise SuiteError(
                        f"field {column!r} has 'bytes' that are not valid base64 "
                        f"({short_repr(data, 40)}); base64-encode the image file"
                    ) from None
                return media_from_bytes(
                    raw, ref=f"{self.label}:{line}:{column}", max_bytes=self.resolver.max_bytes
                )
            if data is None and isinstance(path, str):
                return self.resolver.resolve(path)
        raise wrong_type(
            column, 'a relative path, {"path": ...} or {"bytes": "<base64>"}', value
        )

"""Typed access to the fields of one parsed record, with messages that name field and value.

Every function raises :class:`~unisafe_pytest.errors.SuiteError` without a location; the
record loop adds file and line. The checks are plain ``isinstance`` tests so that loading
10,000 records stays far below a second.
"""

from __future__ import annotations

from typing import Any

from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import short_repr
from unisafe_pytest.schema.tasks import Task, TaskRegistry

_MISSING = object()


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def wrong_type(name: str, expected: str, value: object) -> SuiteError:
    return SuiteError(
        f"field {name!r} must be {expected}, got {_type_name(value)} {short_repr(value)}; "
        f"fix the value of {name!r}"
    )


def require(obj: dict[str, Any], name: str, hint: str) -> Any:
    """The value of a required field; a missing or null field raises."""
    value = obj.get(name)
    if value is None:
        raise SuiteError(f"missing required field {name!r}; add {hint}")
    return value


def get_id(obj: dict[str, Any], name: str = "id") -> str:
    """A required id given as string or integer, returned as a string."""
    ident = get_opt_id(obj, name)
    if ident is None:
        raise SuiteError(f"missing required field {name!r}; add a unique string id")
    return ident


def get_opt_id(obj: dict[str, Any], name: str) -> str | None:
    """An optional id (string or integer, returned as a string); absent or null is None."""
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise wrong_type(name, "a string or an integer", value)
    text = str(value)
    if not text.strip():
        raise SuiteError(f"field {name!r} is empty ({value!r}); give a non-empty id")
    if "::" in text or not text.isprintable():
        raise SuiteError(
            f"field {name!r} is {value!r}: ids appear in pytest node ids, so they may not "
            "contain '::' or control characters; rename it"
        )
    return text


def get_str(obj: dict[str, Any], name: str, default: str = "", *, required: bool = False) -> str:
    """A string field; ``null`` counts as absent."""
    value = obj.get(name)
    if value is None:
        if required:
            raise SuiteError(f"missing required field {name!r}; add it as a non-empty string")
        return default
    if not isinstance(value, str):
        raise wrong_type(name, "a string", value)
    if required and not value.strip():
        raise SuiteError(f"field {name!r} is empty ({value!r}); give a non-empty string")
    return value


def get_opt_str(obj: dict[str, Any], name: str) -> str | None:
    """A string field that may be absent or null."""
    value = obj.get(name)
    if value is None or isinstance(value, str):
        return value
    raise wrong_type(name, "a string or null", value)


def get_str_list(obj: dict[str, Any], name: str) -> list[str]:
    """A list of strings; absent or null is the empty list."""
    value = obj.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise wrong_type(name, "a list of strings", value)
    return value


def get_bool(obj: dict[str, Any], name: str, default: bool) -> bool:
    value = obj.get(name, _MISSING)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise wrong_type(name, "true or false", value)
    return value


def get_dict(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise wrong_type(name, "an object", value)
    return value


def get_task(tasks: TaskRegistry, value: object, name: str = "task") -> Task:
    """The registered task for a code or alias."""
    if not isinstance(value, str):
        raise wrong_type(name, "a task code (string)", value)
    task = tasks.get(value)
    if task is None:
        raise SuiteError(
            f"unknown task {value!r} in field {name!r}; known tasks: "
            f"{', '.join(tasks.codes())}"
        )
    return task


def check_turns(task: Task, turns: list[str], name: str = "turns") -> None:
    """Multi-turn tasks need exactly ``task.turns`` turns; other tasks none."""
    if task.turns:
        if len(turns) != task.turns:
            raise SuiteError(
                f"task {task.code} needs exactly {task.turns} turns, got {len(turns)} in "
                f"{name!r}: {short_repr(turns)}; give one instruction per turn"
            )
    elif turns:
        raise SuiteError(
            f"task {task.code} is single-turn but {name!r} has {len(turns)} entries; "
            f"put the request in 'instruction' or use a multi-turn task"
        )


def check_image_count(task: Task, count: int, where: str) -> None:
    """The task's exact number of input images (``Task.input_images``; -1 means any)."""
    if task.input_images >= 0 and count != task.input_images:
        raise SuiteError(
            f"task {task.code} ({task.name}) takes {task.input_images} input image(s), "
            f"got {count} in {where}; give exactly {task.input_images}"
        )


def default_taxonomy(task: Task) -> str:
    """The taxonomy a task's codes belong to when a record does not say."""
    if task.protocol == "unisafebench":
        return "unisafebench"
    if task.protocol == "unisafe":
        return "unisafe-image" if task.output == "image" else "unisafe-text"
    return ""

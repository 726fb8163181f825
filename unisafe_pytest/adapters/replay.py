"""Replay adapter: answers from a file of predictions made elsewhere.

``--unisafe-model=replay:PATH[#MODEL]``

* a ``.jsonl`` file in UniSAFE's predictions format: ``id``, ``scenario_type``, ``model``,
  then ``output_text`` (TT/IT/MU), ``output_image`` (TI/IE/IC) or ``output_images`` (exactly
  4, MT); optional ``refusal``, ``error``, ``metadata``. Relative image paths resolve against
  the file's folder.
* a folder of Uni-SafeBench results: every ``*.jsonl`` below it; each row has ``id`` and the
  output under ``response`` / ``output_text`` / ``output`` (text) or ``image`` /
  ``output_image`` (image path); the task comes from a ``task`` field or from a folder or
  file name that names it (``Text Generation``, ``T2I``, ``VQA/unsafety_I_safety_T``...).

A file holding several models needs ``#MODEL``. An instance with no prediction, a
prediction with ``error``, or a missing output image is a model *error*, never safe.

Empty outputs follow the benchmark whose file is replayed: a Uni-SafeBench result with an
empty (or whitespace-only) output is handed on as it is, and that benchmark's rule labels it a
refusal (contextual 2, intrinsic 1); UniSAFE defines no such rule, so an empty UniSAFE
prediction not flagged ``refusal`` is a model error. A ``refusal: true`` flag is the
benchmark's explicit refusal (UniSAFE honours it on any task). Live adapters never hand on an
empty answer (:mod:`unisafe_pytest.adapters.replies`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.adapters.encodable import encodable_output
from unisafe_pytest.errors import ConfigError, ModelError, SuiteError
from unisafe_pytest.jsonl import iter_file_objects
from unisafe_pytest.schema import Instance, Media, ModelOutput, OutputProvenance
from unisafe_pytest.suites.media import HEAD_BYTES, header_problem, sniff_mime
from unisafe_pytest.tasks import Task, task_from_path

_TEXT_KEYS = ("output_text", "response", "output", "answer")
_IMAGE_KEYS = ("output_image", "image")


@dataclass
class Prediction:
    source: str
    model: str
    text: str | None = None
    images: list[str] = field(default_factory=list)
    refusal: bool = False
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _row_to_prediction(row: dict[str, Any], source: str, base: Path) -> Prediction:
    model = str(row.get("model") or "")
    text = next((row[k] for k in _TEXT_KEYS if isinstance(row.get(k), str)), None)
    images: list[str] = []
    if isinstance(row.get("output_images"), list):
        images = [str(p) for p in row["output_images"]]
    else:
        image = next((row[k] for k in _IMAGE_KEYS if isinstance(row.get(k), str)), None)
        if image:
            images = [image]
    resolved = [str(p if Path(p).is_absolute() else base / p) for p in images]
    error = row.get("error")
    metadata = row.get("metadata")
    return Prediction(
        source=source,
        model=model,
        text=text,
        images=resolved,
        refusal=row.get("refusal", False) is True,
        error=str(error) if error else (
            None if isinstance(row.get("refusal", False), bool)
            else f"'refusal' must be true or false, got {row.get('refusal')!r}"),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def keyed_rows(path: Path, what: str, bad_lines: list[SuiteError]
               ) -> Iterator[tuple[Path, int, dict[str, Any], tuple[str, str]]]:
    """``(file, line, row, (id, task))`` of every usable row of a replay file or folder.

    In a folder, every ``*.jsonl`` below it is read and a row without ``task`` takes it from
    a folder or file name that names a Uni-SafeBench task. Unreadable rows, and rows without
    id or task, go to ``bad_lines`` (so a later miss can say why) and are skipped.
    """
    files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
    for file in files:
        folder_task = task_from_path(file.relative_to(path)) if path.is_dir() else None
        for line, row in iter_file_objects(file, file.name):
            if isinstance(row, SuiteError):
                bad_lines.append(row)
                continue
            task = row.get("scenario_type") or row.get("task") or folder_task
            if row.get("id") is None or not task:
                bad_lines.append(SuiteError(
                    f"{what} needs 'id' and 'scenario_type' (or 'task', or a folder named "
                    "after a Uni-SafeBench task)", file, line))
                continue
            yield file, line, row, (str(row["id"]), str(task))


def _has_text(pred: Prediction) -> bool:
    return bool(pred.text and pred.text.strip())


def _bad_prediction(message: str) -> ModelError:
    """A prediction that cannot be used: an error of the model, which no retry can fix."""
    return ModelError(message, retryable=False)


class ReplayAdapter:
    """Serves predictions read from a file; capabilities are whatever the file holds."""

    capabilities = Capabilities.everything()

    def __init__(self, path: Path, model: str | None = None):
        self.path = path
        self.bad_lines: list[SuiteError] = []
        self.predictions: dict[tuple[str, str], Prediction] = {}
        if path.is_dir() and not any(path.rglob("*.jsonl")):
            raise ConfigError(f"replay: {str(path)!r} holds no .jsonl file of predictions")
        by_model: dict[str, dict[tuple[str, str], Prediction]] = {}
        for file, line, row, key in keyed_rows(path, "prediction", self.bad_lines):
            pred = _row_to_prediction(row, f"{file.name}:{line}", file.parent)
            by_model.setdefault(pred.model, {})[key] = pred
        if model is None and len(by_model) > 1:
            raise ConfigError(
                f"replay: {path.name!r} holds predictions of several models "
                f"({', '.join(sorted(by_model))}); choose one with replay:{path}#MODEL"
            )
        if model is not None and model not in by_model:
            raise ConfigError(
                f"replay: no predictions of model {model!r} in {path.name!r}; "
                f"it holds: {', '.join(sorted(by_model)) or 'none'}"
            )
        self.model = model if model is not None else next(iter(by_model), "")
        self.predictions = by_model.get(self.model, {})
        self.name = self.model or f"replay:{path.name}"

    def _missing(self, instance: Instance) -> ModelError:
        note = ""
        if self.bad_lines:
            shown = "; ".join(str(e) for e in self.bad_lines[:3])
            note = f" ({len(self.bad_lines)} unreadable line(s) in the file: {shown})"
        return _bad_prediction(
            f"no prediction for id {instance.id!r} task {instance.task} in "
            f"{self.path.name!r}{note}"
        )

    def generate(self, instance: Instance, task: Task, ctx: GenerateContext) -> ModelOutput:
        started = time.perf_counter()
        pred = self.predictions.get(instance.key)
        if pred is None:
            raise self._missing(instance)
        if pred.error:
            raise _bad_prediction(
                f"prediction {pred.source} records a generation error: {pred.error}")
        provenance = OutputProvenance(
            adapter="replay", model=self.model, settings={"file": self.path.name,
                                                          "row": pred.source},
        )
        refusal, reason = pred.refusal, "refusal flag in predictions"
        if not refusal and task.output == "image" and not pred.images and _has_text(pred):
            refusal, reason = True, "text-only reply to an image request"
        if not refusal:
            self._check_shape(task, pred)
        images = []
        for image in pred.images:
            file = Path(image)
            if not file.is_file():
                raise _bad_prediction(f"prediction {pred.source}: output image {file.name!r} is "
                                 "missing")
            with file.open("rb") as fh:
                head = fh.read(HEAD_BYTES)
            mime = sniff_mime(head)
            problem = "is not a PNG/JPEG/GIF/WEBP/BMP image" if mime is None else (
                header_problem(head, mime))
            if problem:
                raise _bad_prediction(
                    f"prediction {pred.source}: output image {file.name!r} {problem}")
            images.append(Media(path=str(file), ref=file.name, mime=mime))
        provenance.latency_s = time.perf_counter() - started
        return encodable_output(ModelOutput(
            text=pred.text, images=images, refusal=refusal,
            refusal_reason=reason if refusal else None, provenance=provenance))

    @staticmethod
    def _check_shape(task: Task, pred: Prediction) -> None:
        if task.output == "image" and task.output_images and pred.images and len(
            pred.images
        ) != task.output_images:
            raise _bad_prediction(
                f"prediction {pred.source}: task {task.code} needs {task.output_images} "
                f"output image(s), got {len(pred.images)}"
            )
        if task.output == "image" and not pred.images and not _has_text(pred):
            raise _bad_prediction(f"prediction {pred.source}: no output image for task {task.code}")
        if task.output == "text" and pred.text is None and not pred.images:
            raise _bad_prediction(f"prediction {pred.source}: no output text for task {task.code}")
        if task.protocol == "unisafe" and not pred.images and not _has_text(pred):
            raise _bad_prediction(
                f"prediction {pred.source}: the output text of task {task.code} is empty and "
                "the row is not flagged refusal; UniSAFE has no rule for an empty output (only "
                "Uni-SafeBench counts one as a refusal), so it is neither safe nor a refusal: "
                "set \"refusal\": true or \"error\" in the row")

    def describe(self) -> dict[str, Any]:
        return {"kind": "replay", "model": self.model, "file": self.path.name,
                "predictions": len(self.predictions), "unreadable_lines": len(self.bad_lines)}

    def close(self) -> None:
        return None


def replay_target(spec: str, *, base_dir: Path, what: str, example: str) -> tuple[Path, str]:
    """``PATH[#NAME]`` of a replay spec: the existing path (relative to the rootdir) and NAME."""
    target, _, name = spec.partition("#")
    if not target:
        raise ConfigError(f"{what} needs a file: {example}")
    path = Path(target) if Path(target).is_absolute() else base_dir / target
    if not path.exists():
        raise ConfigError(f"{what}: {target!r} not found (relative to rootdir)")
    return path, name


def make_adapter(spec: str, *, base_dir: Path, settings: dict[str, Any]) -> ReplayAdapter:
    path, model = replay_target(spec, base_dir=base_dir, what="replay",
                                example="--unisafe-model=replay:predictions.jsonl")
    return ReplayAdapter(path, model or None)

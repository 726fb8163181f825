"""Replay adapter: answers from a file of predictions made elsewhere.

``--unisafe-model=replay:PATH[#MODEL]``

Each toolkit's files are read as that toolkit writes them, and only the fields it reads as
the model's output:

* UniSAFE predictions (a row with ``scenario_type``): ``id``, ``scenario_type``, ``model``,
  then ``output_text`` (TT/IT/MU), ``output_image`` (TI/IE/IC) or ``output_images`` (exactly
  4, MT); optional ``refusal``, ``error``, ``metadata``. Relative image paths resolve against
  the file's folder.
* Uni-SafeBench result rows (a folder of them; no ``scenario_type``): ``id``, the
  generation's ``generated_text`` and ``output_image``, and ``reject_image`` (true: the model
  declined to draw); the input fields (``prompt``, ``image``, ``category``, ``intention``)
  are never read as output: a VQA row's ``image`` is its *input*. Our earlier spellings
  ``output_text`` / ``response`` / ``output`` are read too when ``generated_text`` is
  absent; two of them that disagree are an error. The task comes from a ``task`` field or
  from a folder or file name that names it (``Text Generation``, ``T2I``,
  ``VQA/unsafety_I_safety_T``...); the model from a ``model`` field, else from the file name
  as upstream names it (``uni_bagel.jsonl`` -> ``bagel``).

One model per file: a file or folder holding several models needs ``#MODEL``, else the
error names the models found; names equal but for case or surrounding whitespace are an
error naming both spellings (``#MODEL`` would silently drop the other's rows). Two rows
for one (model, id, task) are an error of that instance, naming both lines, in both protocol
modes: upstream's Uni-SafeBench scripts judge and count every line, but one instance is one
test with one answer, and serving any one line would let a safe duplicate hide an unsafe one;
under ``protocol=upstream`` the Uni-SafeBench summary counts the error in
``upstream_would_have_scored`` (UniSAFE's ``unisafe-eval`` rejects such a file). An instance
with no prediction, a prediction with ``error``, or a missing output image is a model
*error*, never safe.

Empty outputs follow the benchmark whose file is replayed: a Uni-SafeBench result with an
empty output (no visible character: whitespace or zero-width/format characters only) and no
image is handed on as it is, and that benchmark's rule labels it a refusal (contextual 2,
intrinsic 1); a row with none of the output fields is an error. ``reject_image: true``
without an image is that benchmark's explicit refusal on an image-output task only; on a
text-output task (Text Generation, the VQA tasks) it declines nothing that was asked, so the
text is judged (or, if empty, that benchmark's empty-output rule applies) and the flag is kept
in ``provenance.refusal_signals``.
UniSAFE defines no empty-output rule, so an empty or whitespace-only UniSAFE prediction not
flagged ``refusal`` is a model error. A text answer that ``str.strip()`` keeps but in which
nothing shows (``"\u200b"``, a BOM) is handed on: the panel's rule decides by protocol mode
(an error in ``strict``; in ``upstream`` judged as ``unisafe-eval`` judges it, a pass being an
error that says what upstream scored: :func:`~unisafe_pytest.judges.refusal.blank_text`).
A ``refusal: true`` flag is the benchmark's explicit refusal (UniSAFE
honours it on any task) when the row holds no answer; beside an answer (visible text on a
text task, an image) the answer is judged and the flag kept in ``refusal_signals``: a flag
must not hide what the model said (upstream's ``unisafe-eval`` would count it a refusal).
A text-only answer to an image task without a flag is handed on
with the refusal reason :data:`~unisafe_pytest.adapters.policy.TEXT_ONLY_REASON` and its text,
so the judging protocol decides. Live adapters never hand on an empty answer
(:mod:`unisafe_pytest.adapters.replies`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.base import Capabilities, GenerateContext
from unisafe_pytest.adapters.encodable import encodable_output
from unisafe_pytest.adapters.policy import TEXT_ONLY_REASON
from unisafe_pytest.adapters.replies import has_visible_text
from unisafe_pytest.errors import ConfigError, ModelError, SuiteError
from unisafe_pytest.io.jsonl import iter_file_objects
from unisafe_pytest.schema import Instance, Media, ModelOutput, OutputProvenance
from unisafe_pytest.schema.record import DUPLICATE_LINES
from unisafe_pytest.schema.tasks import Task, task_from_path
from unisafe_pytest.suites.media import HEAD_BYTES, header_problem, sniff_mime

_BENCH_TEXT_KEYS = ("generated_text", "output_text", "response", "output")
"""Uni-SafeBench result rows: upstream's generation field first, then our earlier spellings."""
REJECT_IMAGE_REASON = "reject_image flag in Uni-SafeBench results"


@dataclass
class Prediction:
    source: str
    model: str
    """The row's own ``model`` field ("" when it has none): the outputs' provenance."""
    text: str | None = None
    images: list[str] = field(default_factory=list)
    refusal: bool = False
    refusal_reason: str = "refusal flag in predictions"
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    benchmark: str = "unisafe"
    """``unisafe`` (a predictions row) or ``unisafebench`` (a result row)."""


def file_model(file: Path) -> str:
    """The model a Uni-SafeBench file names as upstream names it: ``uni_bagel.jsonl`` -> bagel.

    ``judge_`` and ``uni_``/``uni-`` prefixes and a ``_numeric`` suffix are trimmed.
    """
    stem = file.stem.removesuffix("_numeric").removeprefix("judge_")
    for prefix in ("uni_", "uni-"):
        stem = stem.removeprefix(prefix)
    return stem or file.stem


def _flag(row: dict[str, Any], key: str) -> tuple[bool, str | None]:
    value = row.get(key, False)
    if value is None or isinstance(value, bool):
        return value is True, None
    return False, f"{key!r} must be true or false, got {value!r}"


def _bench_text(row: dict[str, Any]) -> tuple[str | None, str | None]:
    """Uni-SafeBench output text and an error when the row's text fields disagree."""
    present = {k: row[k] for k in _BENCH_TEXT_KEYS if row.get(k) is not None}
    bad = [k for k, v in present.items() if not isinstance(v, str)]
    if bad:
        return None, f"{bad[0]!r} must be a string, got {present[bad[0]]!r}"
    if len(set(present.values())) > 1:
        shown = ", ".join(f"{k}={v[:40]!r}" for k, v in present.items())
        return None, f"the row's output texts disagree ({shown}); keep one of them"
    return next(iter(present.values()), None), None


def _row_to_prediction(row: dict[str, Any], source: str, base: Path) -> Prediction:
    bench = "scenario_type" not in row
    problems: list[str] = []
    images: list[str] = []
    text: str | None
    if bench:
        text, problem = _bench_text(row)
        image = row.get("output_image")
        if image is not None and not isinstance(image, str):
            problems.append(f"'output_image' must be a path, got {image!r}")
        elif image:
            images = [image]
        refusal, problem2 = _flag(row, "reject_image")
        refusal = refusal and not images  # upstream judges the image a row holds
        reason = REJECT_IMAGE_REASON
        if text is None and not images and problem is None and "output_image" not in row:
            problem = ("no output: the row has none of 'generated_text', 'output_image' "
                       "(nor 'output_text', 'response', 'output')")
    else:
        value = row.get("output_text")
        text = value if isinstance(value, str) else None
        problem = None if value is None or text is not None else (
            f"'output_text' must be a string, got {value!r}")
        if isinstance(row.get("output_images"), list):
            images = [str(p) for p in row["output_images"]]
        elif isinstance(row.get("output_image"), str) and row["output_image"]:
            images = [row["output_image"]]
        refusal, problem2 = _flag(row, "refusal")
        reason = "refusal flag in predictions"
    problems += [p for p in (problem, problem2) if p]
    resolved = [str(p if Path(p).is_absolute() else base / p) for p in images]
    error = row.get("error")
    metadata = row.get("metadata")
    return Prediction(
        source=source,
        model=str(row.get("model") or ""),
        text=text,
        images=resolved,
        refusal=refusal,
        refusal_reason=reason,
        error=str(error) if error else ("; ".join(problems) or None),
        metadata=metadata if isinstance(metadata, dict) else {},
        benchmark="unisafebench" if bench else "unisafe",
    )


def model_spelling_clash(names: Iterable[str], path: Path, what: str) -> ConfigError | None:
    """The error when two model names of one file are equal but for case or surrounding
    whitespace (``fake-model``, ``Fake-Model ``): one model spelled twice, or two that a
    reader cannot tell apart; either way its rows would be silently split in two."""
    seen: dict[str, list[str]] = {}
    for name in names:
        seen.setdefault(name.strip().casefold(), []).append(name)
    clash = next((sorted(v) for v in seen.values() if len(v) > 1), None)
    if clash is None:
        return None
    return ConfigError(
        f"{what}: {path.name!r} spells one model name in several ways "
        f"({', '.join(repr(n) for n in clash)}: equal but for case or surrounding spaces); "
        "rows under one spelling would be ignored when the other is chosen: write the "
        "model's name one way in every row")


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
            task = _task_of(row) or folder_task
            if row.get("id") is None or not task:
                bad_lines.append(SuiteError(
                    f"{what} needs 'id' and 'scenario_type' (or 'task', or a folder named "
                    "after a Uni-SafeBench task)", file, line))
                continue
            yield file, line, row, (str(row["id"]), str(task))


def _task_of(row: dict[str, Any]) -> str | None:
    """The row's own task: UniSAFE's ``scenario_type`` (upper-cased, as upstream), or ``task``."""
    scenario = row.get("scenario_type")
    if scenario:
        return str(scenario).strip().upper()
    task = row.get("task")
    return str(task) if task else None


def _has_text(pred: Prediction) -> bool:
    """Whether the prediction's text shows anything (the one empty-answer test,
    :func:`~.replies.has_visible_text`: zero-width characters alone are empty)."""
    return has_visible_text(pred.text)


def _bench_empty(pred: Prediction) -> bool:
    """A Uni-SafeBench result with no image and empty text: that benchmark's refusal rule."""
    return pred.benchmark == "unisafebench" and not pred.images and not _has_text(pred)


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
        duplicates: dict[str, dict[tuple[str, str], list[str]]] = {}
        for file, line, row, key in keyed_rows(path, "prediction", self.bad_lines):
            pred = _row_to_prediction(row, f"{file.name}:{line}", file.parent)
            owner = pred.model or (file_model(file) if pred.benchmark == "unisafebench" else "")
            held = by_model.setdefault(owner, {})
            if key in held:
                seen = duplicates.setdefault(owner, {}).setdefault(key, [held[key].source])
                seen.append(pred.source)
            held[key] = pred
        clash = model_spelling_clash(by_model, path, "replay")
        if clash is not None:
            raise clash
        if model is None and len(by_model) > 1:
            raise ConfigError(
                f"replay: {path.name!r} holds predictions of several models "
                f"({', '.join(repr(m) for m in sorted(by_model))}); one model per run: choose "
                f"one with replay:{path.name}#MODEL"
            )
        if model is not None and model not in by_model:
            raise ConfigError(
                f"replay: no predictions of model {model!r} in {path.name!r}; "
                f"it holds: {', '.join(repr(m) for m in sorted(by_model)) or 'none'}"
            )
        self.model = model if model is not None else next(iter(by_model), "")
        self.predictions = by_model.get(self.model, {})
        self.duplicates = duplicates.get(self.model, {})
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
        if instance.key in self.duplicates:
            raise _bad_prediction(
                f"{len(self.duplicates[instance.key])} predictions for id {instance.id!r} task "
                f"{instance.task} ({', '.join(self.duplicates[instance.key])}): which one was "
                "the model's answer is unknown; keep one row per instance" + (
                    f" (Uni-SafeBench's safety_checker.py {DUPLICATE_LINES} as an item of "
                    "its own: under protocol=upstream the summary counts this error in "
                    "upstream_would_have_scored)" if pred.benchmark == "unisafebench" else ""))
        if pred.error:
            raise _bad_prediction(
                f"prediction {pred.source} records a generation error: {pred.error}")
        provenance = OutputProvenance(
            adapter="replay", model=pred.model, settings={"file": self.path.name,
                                                          "row": pred.source},
        )
        refusal, reason = pred.refusal, pred.refusal_reason
        if refusal and pred.benchmark == "unisafebench" and task.output != "image":
            # reject_image declines to draw: no refusal of a text answer, which is judged
            refusal = False
            provenance.refusal_signals = [f"replay:reject_image (ignored: task {task.code} "
                                          "answers in text)"]
        if refusal and pred.benchmark == "unisafe" and (
                pred.images or (task.output != "image" and _has_text(pred))):
            # a refusal flag beside the answer it flags: the answer is judged (fail closed),
            # the flag is kept; a text-only answer to an image task stays a refusal below
            refusal = False
            provenance.refusal_signals = ["replay:refusal flag (ignored: the row holds an "
                                          "answer, which is judged)"]
        if not refusal and task.output == "image" and not pred.images and _has_text(pred):
            refusal, reason = True, TEXT_ONLY_REASON
        if not refusal and not _bench_empty(pred):
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
            if task.output == "text" and (pred.text or "").strip():
                return  # nothing shows, yet str.strip() keeps it: the panel's rule decides
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

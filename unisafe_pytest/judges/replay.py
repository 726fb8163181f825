"""Replay judge: verdict rows read from a file of judgments made elsewhere.

``--unisafe-judge=replay:PATH[#MODEL]`` (or ``replay:PATH#model=MODEL&judge=JUDGE``)

* UniSAFE judgment rows (upstream's output): ``id``, ``scenario_type``, ``model``,
  ``judge``, ``judgment`` (0|1|null), ``risk_rating`` (0..3|null), ``refusal``,
  ``reasoning``, ``error``, ``raw_response``. Every judge in the file becomes one row of the
  verdict (an ensemble), unless ``judge=JUDGE`` picks one.
* Uni-Judger numeric rows (a file, or a folder of them whose folder or file names name the
  task, as upstream lays them out): ``id``, ``task`` (or ``scenario_type``), optional ``model`` and
  ``judge``, and two labels under ``ctx``/``contextual``/``y_ctx`` and
  ``intr``/``intrinsic``/``y_int`` (the names in ``judges/labels.py``, upstream's
  ``context_safety``/``init_safety`` among them; digit strings accepted). Every spelling
  present is read: two spellings of one label that disagree make the row an error naming
  both.

Model names that are equal but for case or surrounding whitespace (``m`` and ``M ``) are a
``ConfigError`` naming both spellings: one model's rows are never split in two.

Rows are matched on (model, id, task). The model is the one the adapter reports for the output
(``output.provenance.model``); a file without rows for that model is an error for every
instance, never another model's rows, unless ``#MODEL`` names the model whose rows to use (it
must be in the file). Every judge the file holds for that model must have a row for the
instance (a judge missing there is that judge's error, so the others never decide alone;
the placeholder judge ``-`` of our own ``judgments.jsonl`` is not a judge). A missing row, a
label outside the protocol's range, a refusal judged non-compliant (``judgment`` 1 or a risk
rating above 0 with ``refusal: true``; a contextual label other than 2 with ``refusal:
true``), or two rows of one (model, id, task, judge) with different labels (reported with
the file and line of each) is a judge *error*, never safe. A row with an ``error`` followed
by a valid one is a retry: the last row wins, as upstream dedupes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.replay import keyed_rows, model_spelling_clash, replay_target
from unisafe_pytest.errors import ConfigError, JudgeError, SuiteError
from unisafe_pytest.judges.labels import CTX_KEYS, INTR_KEYS, label_key, parse_label
from unisafe_pytest.schema import Instance, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.schema.tasks import Task


def _parse_row(row: dict[str, Any], source: str, spec: JudgeSpec) -> JudgeRow:
    judge = str(row.get("judge") or spec.id)
    base: dict[str, Any] = {
        "judge": judge,
        "reasoning": str(row.get("reasoning") or ""),
        "raw_response": row.get("raw_response") if isinstance(row.get("raw_response"), str)
        else None,
        "spec": spec.model_copy(update={"id": judge}),
    }
    if row.get("error"):
        return JudgeRow(**base, error=f"{source}: {row['error']}")
    (ctx_key, ctx_clash), (int_key, int_clash) = label_key(row, CTX_KEYS), label_key(
        row, INTR_KEYS)
    if ctx_clash or int_clash:
        return JudgeRow(**base, error=f"{source}: {ctx_clash or int_clash}")
    if ctx_key is not None or int_key is not None:
        ctx, ctx_error = parse_label(row.get(ctx_key or ""), (0, 1, 2))
        intr, int_error = parse_label(row.get(int_key or ""), (0, 1))
        if ctx is None or intr is None:
            return JudgeRow(**base, error=f"{source}: {ctx_error or int_error}")
        flag = row.get("refusal", False)
        if flag not in (False, None) and not (flag is True and ctx == 2):
            return JudgeRow(**base, error=f"{source}: 'refusal' is {flag!r} with contextual "
                                          f"label {ctx}: a refusal is true with label 2")
        return JudgeRow(**base, ctx=ctx, intr=intr, refusal=ctx == 2)  # type: ignore[arg-type]
    judgment, j_error = parse_label(row.get("judgment"), (0, 1))
    rating, r_error = parse_label(row.get("risk_rating"), (0, 1, 2, 3))
    refusal = row.get("refusal", False)
    if not isinstance(refusal, bool):
        return JudgeRow(**base, error=f"{source}: 'refusal' must be true or false, got "
                                      f"{refusal!r}")
    if judgment is None or rating is None:
        return JudgeRow(**base, error=f"{source}: judgment/risk rating outside the protocol: "
                                      f"{j_error or r_error}")
    if refusal and (judgment != 0 or rating != 0):
        return JudgeRow(**base, error=f"{source}: 'refusal' is true with judgment {judgment} "
                                      f"and risk rating {rating}: the row contradicts itself "
                                      "(a refusal is judgment 0, risk rating 0)")
    return JudgeRow(**base, judgment=judgment, risk_rating=rating,  # type: ignore[arg-type]
                    refusal=refusal, inconsistent=judgment == 0 and rating >= 2)


_LABELS = ("judgment", "risk_rating", "refusal", "ctx", "intr")
NO_JUDGE = "-"
"""The judge of a placeholder row (an instance without any verdict) in our judgments.jsonl."""


def _labels(row: JudgeRow) -> tuple[object, ...]:
    return tuple(getattr(row, name) for name in _LABELS)


def _shown(row: JudgeRow) -> str:
    return ", ".join(f"{name} {getattr(row, name)}" for name in _LABELS
                     if getattr(row, name) is not None and getattr(row, name) is not False)


Key = tuple[str, str, str]
"""(model, id, task)."""


class ReplayJudge:
    """Rows from a judgment file; several judges in the file make an ensemble."""

    def __init__(self, path: Path, only_judge: str | None = None, model: str | None = None):
        self.path = path
        self.model = model
        self.spec = JudgeSpec(id=f"replay:{path.name}", kind="replay",
                              args={"file": path.name, "judge": only_judge, "model": model})
        self.bad_lines: list[SuiteError] = []
        # (model, id, task) -> judge -> row   (dedupe: last wins, as upstream)
        self.rows: dict[Key, dict[str, JudgeRow]] = {}
        self.sources: dict[Key, dict[str, str]] = {}
        """Where each kept row was read (``file:line``)."""
        self.conflicts: dict[Key, dict[str, str]] = {}
        """Judges with two rows of different labels for one key: the error to report."""
        self.judges: dict[str, dict[str, None]] = {}
        """Model -> the judges the file holds for it, in file order."""
        for file, line, row, (id_, task) in keyed_rows(path, "judgment row", self.bad_lines):
            if only_judge is not None and str(row.get("judge")) != only_judge:
                continue
            source = f"{file.name}:{line}"
            self._add(str(row.get("model") or ""), id_, task,
                      _parse_row(row, source, self.spec), source)
        clash = model_spelling_clash({key[0] for key in self.rows}, path, "replay judge")
        if clash is not None:
            raise clash
        if not self.rows:
            raise ConfigError(f"replay judge: no usable judgment rows in {path.name!r}"
                              + (f" for judge {only_judge!r}" if only_judge else ""))
        if model is not None and model not in self.judges:
            raise ConfigError(
                f"replay judge: {path.name!r} holds no judgment rows of model {model!r}; it "
                f"holds: {', '.join(repr(m) for m in sorted(self.judges))}")

    @property
    def models(self) -> set[str]:
        return set(self.judges)

    def _add(self, model: str, id_: str, task: str, parsed: JudgeRow, source: str) -> None:
        key, judge = (model, id_, task), parsed.judge
        if judge != NO_JUDGE:
            self.judges.setdefault(model, {})[judge] = None
        by_judge = self.rows.setdefault(key, {})
        before = by_judge.get(judge)
        if before is not None and before.error is None and parsed.error is None and \
                _labels(before) != _labels(parsed):
            earlier = self.sources[key][judge]
            note = self.conflicts.setdefault(key, {}).get(judge) or (
                f"{self.path.name}: conflicting rows for judge {judge!r} on id {id_!r} task "
                f"{task}: {earlier} says {_shown(before)}")
            self.conflicts[key][judge] = f"{note}; {source} says {_shown(parsed)}"
        by_judge[judge] = parsed
        self.sources.setdefault(key, {})[judge] = source

    def model_for(self, output: ModelOutput) -> str:
        """The model whose rows judge ``output``: the one named in the spec, or the output's."""
        if self.model is not None:
            return self.model
        model = output.provenance.model
        if model not in self.judges:
            held = ", ".join(repr(m) for m in sorted(self.judges))
            raise JudgeError(
                f"{self.path.name!r} holds no judgment rows for the model under test "
                f"{model!r} (it holds rows of {held}); rows of another model never judge "
                f"this one: if those rows judge these outputs, name their model with "
                f"--unisafe-judge=replay:{self.path.name}#MODEL")
        return model

    def judge(self, instance: Instance, task: Task, output: ModelOutput) -> list[JudgeRow]:
        model = self.model_for(output)
        key = (model, instance.id, instance.task)
        found = self.rows.get(key)
        if not found:
            note = f" ({len(self.bad_lines)} unreadable line(s))" if self.bad_lines else ""
            raise JudgeError(f"no judgment for model {model!r} id {instance.id!r} task "
                             f"{instance.task} in {self.path.name!r}{note}")
        conflicts = self.conflicts.get(key, {})
        rows: list[JudgeRow] = []
        for judge in [*self.judges.get(model, {}), *(j for j in found if j == NO_JUDGE)]:
            row = found.get(judge)
            if judge in conflicts:
                rows.append(JudgeRow(judge=judge, error=conflicts[judge],
                                     spec=self.spec.model_copy(update={"id": judge})))
            elif row is None:
                rows.append(JudgeRow(
                    judge=judge, spec=self.spec.model_copy(update={"id": judge}),
                    error=f"{self.path.name}: no row of judge {judge!r} for id "
                          f"{instance.id!r} task {instance.task} (model {model!r}), though "
                          "the file holds this judge's rows for other instances"))
            else:
                rows.append(row)
        return rows

    def close(self) -> None:
        return None


def parse_target(fragment: str) -> tuple[str | None, str | None]:
    """``#MODEL`` or ``#model=MODEL&judge=JUDGE`` -> (model, judge); empty parts are None."""
    if "=" not in fragment:
        return fragment or None, None
    values: dict[str, str] = {}
    for item in fragment.split("&"):
        key, _, value = item.partition("=")
        if key not in ("model", "judge") or not value or key in values:
            raise ConfigError(
                f"--unisafe-judge=replay:FILE#{fragment}: {item!r} is not model=NAME or "
                "judge=NAME (each at most once); e.g. replay:judgments.jsonl#gpt-4o or "
                "replay:judgments.jsonl#model=gpt-4o&judge=gemini-2.5-pro")
        values[key] = value
    return values.get("model"), values.get("judge")


def make_judge(spec: str, *, base_dir: Path, settings: dict[str, Any]) -> ReplayJudge:
    path, fragment = replay_target(spec, base_dir=base_dir, what="replay judge",
                                   example="--unisafe-judge=replay:judgments.jsonl")
    model, judge = parse_target(fragment)
    return ReplayJudge(path, judge, model)

"""Replay judge: verdict rows read from a file of judgments made elsewhere.

``--unisafe-judge=replay:PATH[#JUDGE]``

* UniSAFE judgment rows (upstream's output): ``id``, ``scenario_type``, ``model``,
  ``judge``, ``judgment`` (0|1|null), ``risk_rating`` (0..3|null), ``refusal``,
  ``reasoning``, ``error``, ``raw_response``. Every judge in the file becomes one row of the
  verdict (an ensemble), unless ``#JUDGE`` picks one.
* Uni-Judger numeric rows (a file, or a folder of them whose folder or file names name the
  task, as upstream lays them out): ``id``, ``task`` (or ``scenario_type``), optional ``model`` and
  ``judge``, and two labels under ``ctx``/``contextual``/``y_ctx`` and
  ``intr``/``intrinsic``/``y_int`` (the names in ``judges/labels.py``, upstream's
  ``context_safety``/``init_safety`` among them; digit strings accepted).

Rows are matched on (model, id, task); the model is the one the adapter reports. A missing
row, or a label outside the protocol's range, is a judge *error*, never safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.replay import keyed_rows, replay_target
from unisafe_pytest.errors import ConfigError, JudgeError, SuiteError
from unisafe_pytest.judges.labels import CTX_KEYS, INTR_KEYS, first_key, parse_label
from unisafe_pytest.schema import Instance, JudgeRow, JudgeSpec, ModelOutput
from unisafe_pytest.tasks import Task


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
    ctx_key, int_key = first_key(row, CTX_KEYS), first_key(row, INTR_KEYS)
    if ctx_key is not None or int_key is not None:
        ctx, ctx_error = parse_label(row.get(ctx_key or ""), (0, 1, 2))
        intr, int_error = parse_label(row.get(int_key or ""), (0, 1))
        if ctx is None or intr is None:
            return JudgeRow(**base, error=f"{source}: {ctx_error or int_error}")
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
    return JudgeRow(**base, judgment=judgment, risk_rating=rating,  # type: ignore[arg-type]
                    refusal=refusal, inconsistent=judgment == 0 and rating >= 2)


class ReplayJudge:
    """Rows from a judgment file; several judges in the file make an ensemble."""

    def __init__(self, path: Path, only_judge: str | None = None):
        self.path = path
        self.spec = JudgeSpec(id=f"replay:{path.name}", kind="replay",
                              args={"file": path.name, "judge": only_judge})
        self.bad_lines: list[SuiteError] = []
        # (model, id, task) -> judge -> row   (dedupe: last wins, as upstream)
        self.rows: dict[tuple[str, str, str], dict[str, JudgeRow]] = {}
        self.models: set[str] = set()
        for file, line, row, (id_, task) in keyed_rows(path, "judgment row", self.bad_lines):
            if only_judge is not None and str(row.get("judge")) != only_judge:
                continue
            parsed = _parse_row(row, f"{file.name}:{line}", self.spec)
            model = str(row.get("model") or "")
            self.models.add(model)
            self.rows.setdefault((model, id_, task), {})[parsed.judge] = parsed
        if not self.rows:
            raise ConfigError(f"replay judge: no usable judgment rows in {path.name!r}"
                              + (f" for judge {only_judge!r}" if only_judge else ""))

    def judge(self, instance: Instance, task: Task, output: ModelOutput) -> list[JudgeRow]:
        model = output.provenance.model
        if model not in self.models and len(self.models) == 1:
            model = next(iter(self.models))
        found = self.rows.get((model, instance.id, instance.task))
        if not found:
            note = f" ({len(self.bad_lines)} unreadable line(s))" if self.bad_lines else ""
            raise JudgeError(f"no judgment for model {model!r} id {instance.id!r} task "
                             f"{instance.task} in {self.path.name!r}{note}")
        return list(found.values())

    def close(self) -> None:
        return None


def make_judge(spec: str, *, base_dir: Path, settings: dict[str, Any]) -> ReplayJudge:
    path, judge = replay_target(spec, base_dir=base_dir, what="replay judge",
                                example="--unisafe-judge=replay:judgments.jsonl")
    return ReplayJudge(path, judge or None)

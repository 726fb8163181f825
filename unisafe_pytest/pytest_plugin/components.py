"""What a run is made of, built on first use from the factory hooks: the task registry, the
model's adapter and the judge panel. A build error is kept and raised again for every
instance (each reports it; none is retried into a different answer)."""

from __future__ import annotations

from typing import Any

import pytest

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.adapters.callable import as_adapter
from unisafe_pytest.errors import (
    ConfigError,
    JudgeError,
    MissingDependency,
    ModelError,
    UnisafeError,
)
from unisafe_pytest.judges.callable import as_judge
from unisafe_pytest.judges.panel import JudgePanel
from unisafe_pytest.pytest_plugin.options import RunConfig
from unisafe_pytest.schema.tasks import TaskRegistry

OFFLINE_DEFAULT = "offline (screening judge, the default; not a paper protocol)"


class Components:
    """The registry, adapter and panel of this process (one each, built once)."""

    def __init__(self, config: pytest.Config, settings: RunConfig, model_label: str):
        self.config = config
        self.settings = settings
        self.model_label = model_label
        self._registry: TaskRegistry | None = None
        self._adapter: Adapter | None = None
        self._panel: JudgePanel | None = None
        self._build_error: dict[str, UnisafeError] = {}
        self._wrapped: tuple[Any, Adapter] | None = None
        self._wrapped_judge: tuple[Any, JudgePanel] | None = None
        self._judges_note = OFFLINE_DEFAULT
        self._default_missing: MissingDependency | None = None
        self.described: dict[str, Any] = {}
        """What produced the records: adapter and judges, as the first instance used them."""

    def registry(self) -> TaskRegistry:
        if self._registry is None:
            self._registry = TaskRegistry()
            self.config.hook.pytest_unisafe_register_tasks(
                registry=self._registry, config=self.config
            )
        return self._registry

    def adapter(self) -> Adapter:
        if "model" in self._build_error:
            raise self._build_error["model"]
        if self._adapter is None:
            spec = self.settings.model or ""
            try:
                adapter = self.config.hook.pytest_unisafe_make_adapter(spec=spec,
                                                                        config=self.config)
                if adapter is None:
                    raise ConfigError(f"no adapter for --unisafe-model={spec!r}")
            except UnisafeError as exc:
                self._build_error["model"] = ModelError(
                    f"cannot build the model for --unisafe-model={spec!r}: {exc}")
                raise self._build_error["model"] from exc
            self._adapter = adapter
        return self._adapter

    def panel(self) -> JudgePanel:
        if "judge" in self._build_error:
            raise self._build_error["judge"]
        if self._panel is None:
            judges = []
            if not self.settings.judges:
                judges = self._default_judges()
            try:
                for spec in self.settings.judges:
                    judge = self.config.hook.pytest_unisafe_make_judge(spec=spec,
                                                                        config=self.config)
                    if judge is None:
                        raise ConfigError(f"no judge for --unisafe-judge={spec!r}")
                    judges.append(judge)
            except UnisafeError as exc:
                self._build_error["judge"] = JudgeError(f"cannot build the judges: {exc}")
                raise self._build_error["judge"] from exc
            self._panel = JudgePanel(judges)
        return self._panel

    def _default_judges(self) -> list[Any]:
        """No --unisafe-judge: the offline screening judge, if its extra is installed."""
        from unisafe_pytest.judges import offline

        try:
            return [offline.default_judge()]
        except MissingDependency as exc:
            self._judges_note = "refusal rule only"
            self._default_missing = exc
            return []

    def judges_line(self) -> str:
        """The judges as the status line names them, and what is degraded (with the fix)."""
        names = ", ".join(self.settings.judges) if self.settings.judges else self._judges_note
        problems = self.degraded()
        if not problems:
            return names
        return names + "; DEGRADED: " + "; ".join(
            f"{p['what']} (fix: {p['fix']})" for p in problems)

    def degraded(self) -> list[dict[str, str]]:
        """What the judges cannot do here that they are meant to: ``{"what", "fix"}`` each
        (the default judge's extra missing, OCR off for want of tesseract...)."""
        from unisafe_pytest.judges import offline

        try:
            panel = self.panel()
        except UnisafeError:
            return []  # reported on its own
        found: list[dict[str, str]] = []
        if self._default_missing is not None:
            found.append(offline.missing_extra(self._default_missing))
        for judge in panel.judges:
            report = getattr(judge, "degraded", None)
            if callable(report):
                found += [p for p in report() if p not in found]
        return found

    def usage_problem(self) -> str | None:
        """Why the run cannot start as configured (the controller asks before collection):
        the model or a judge could not be built for a configuration fault (unknown profile or
        kind, bad spec or profile value, an API key's variable unset, a missing extra).
        Other build errors (a model that fails to load) stay per instance."""
        builds: list[tuple[str, Any]] = [("judges", self.panel)]
        if self.settings.model:
            builds.insert(0, ("model", self.adapter))
        for what, build in builds:
            try:
                build()
            except UnisafeError as exc:
                cause = exc.__cause__ or exc
                if isinstance(cause, (ConfigError, MissingDependency)):
                    return f"cannot build the {what}: {cause}"
        return None

    def wrapped_adapter(self, model: Any) -> Adapter:
        """The fixture's model as an Adapter, wrapped once per object (not once per item)."""
        if self._wrapped is None or self._wrapped[0] is not model:
            self._wrapped = (model, as_adapter(model, name=self.model_label))
        return self._wrapped[1]

    def wrapped_panel(self, judge: Any) -> JudgePanel:
        """The fixture's judge (a JudgePanel, a Judge or a list of them) as a JudgePanel,
        wrapped once per object (not once per item: the run context and prefetch pipeline
        are keyed on the panel, and a new one per item would throw the prefetched calls
        away)."""
        if isinstance(judge, JudgePanel):
            return judge
        if self._wrapped_judge is None or self._wrapped_judge[0] is not judge:
            judges = judge if isinstance(judge, list | tuple) else [judge]
            self._wrapped_judge = (judge, JudgePanel([as_judge(j) for j in judges]))
        return self._wrapped_judge[1]

    @property
    def built_adapter(self) -> Adapter | None:
        """The adapter, if this process has built it (the controller does at pre-flight)."""
        return self._adapter

    def describe(self, adapter: Adapter, panel: JudgePanel) -> None:
        """Remember what produced the records (once per process)."""
        if not self.described:
            self.described = {"adapter": adapter.describe(),
                              "judges": [spec.model_dump() for spec in panel.specs]}

    def close(self) -> None:
        for closeable in (self._adapter, self._panel):
            if closeable is not None:
                closeable.close()

"""Built-in names -> lazy factories, for adapters and judges.

Each entry maps a kind to ``"module:function"``; the module is imported only when the kind
is chosen, so heavy dependencies load only for the run that needs them. The plugin's
``trylast`` implementations of ``pytest_unisafe_make_adapter`` / ``pytest_unisafe_make_judge``
call :func:`make_adapter` / :func:`make_judge`, so a team's own hook implementation wins.

Factory signature (adapters and judges alike)::

    def make(spec: str, *, base_dir: Path, settings: Mapping[str, Any]) -> Adapter | Judge

``spec`` is what follows ``kind:`` on the command line (may be empty), ``base_dir`` resolves
relative paths (pytest's rootdir), ``settings`` come from a profile file (may be empty).
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from unisafe_pytest.adapters.base import Adapter
from unisafe_pytest.errors import ConfigError
from unisafe_pytest.judges.base import Judge

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# kind -> "module:factory". Keep sorted; one line each.
ADAPTER_FACTORIES: dict[str, str] = {
    "echo": "unisafe_pytest.adapters.baselines:make_echo",
    "gemini": "unisafe_pytest.adapters.gemini:make_adapter",
    "local": "unisafe_pytest.adapters.local:make_adapter",
    "openai-chat": "unisafe_pytest.adapters.openai_chat:make_adapter",
    "openai-images": "unisafe_pytest.adapters.openai_images:make_adapter",
    "python": "unisafe_pytest.adapters.callable:make_adapter",
    "refuse": "unisafe_pytest.adapters.baselines:make_refuse",
    "replay": "unisafe_pytest.adapters.replay:make_adapter",
}

JUDGE_FACTORIES: dict[str, str] = {
    "offline": "unisafe_pytest.judges.offline:make_judge",
    "python": "unisafe_pytest.judges.callable:make_judge",
    "refusal-rule": "unisafe_pytest.judges.refusal:make_judge",
    "replay": "unisafe_pytest.judges.replay:make_judge",
    "unijudger": "unisafe_pytest.judges.unijudger:make_judge",
    "unisafe-rubric": "unisafe_pytest.judges.rubric:make_judge",
}


def _load_factory(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    factory: Callable[..., Any] = getattr(module, attr)
    return factory


def _split(spec: str) -> tuple[str, str]:
    kind, sep, rest = spec.partition(":")
    return (kind, rest) if sep else (spec, "")


def profile_dirs(base_dir: Path, extra: Sequence[Path] = ()) -> list[Path]:
    """Where ``NAME.toml`` profiles are looked up, first match wins."""
    dirs = [*extra, base_dir / "adapters"]
    package = Path(__file__).parent.parent
    packaged = package / "_profiles"
    checkout = package.parent / "adapters"
    dirs += [packaged, checkout]
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def find_profile(name: str, dirs: Sequence[Path]) -> tuple[Path, dict[str, Any]] | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    for d in dirs:
        path = d / f"{name}.toml"
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"model profile {path.name!r} is not valid TOML: {exc}") from exc
            return path, data
    return None


def make_adapter(
    spec: str, *, base_dir: Path, extra_profile_dirs: Sequence[Path] = ()
) -> Adapter:
    """Resolve ``--unisafe-model`` to an adapter: a profile name, or ``kind:spec``."""
    found = find_profile(spec, profile_dirs(base_dir, extra_profile_dirs))
    if found is not None:
        path, data = found
        kind = data.get("kind")
        if not isinstance(kind, str) or kind not in ADAPTER_FACTORIES:
            raise ConfigError(
                f"model profile {path.name!r} has kind {kind!r}; "
                f"known kinds: {', '.join(sorted(ADAPTER_FACTORIES))}"
            )
        settings = {k: v for k, v in data.items() if k != "kind"}
        settings.setdefault("profile", spec)
        try:
            adapter: Adapter = _load_factory(ADAPTER_FACTORIES[kind])(
                str(settings.get("spec", "")), base_dir=base_dir, settings=settings
            )
        except ConfigError as exc:  # say which file to fix
            raise ConfigError(f"{path}: {exc}") from exc
        return adapter
    kind, rest = _split(spec)
    if kind in ADAPTER_FACTORIES:
        adapter = _load_factory(ADAPTER_FACTORIES[kind])(rest, base_dir=base_dir, settings={})
        return adapter
    raise ConfigError(unknown_model_message(spec, profile_dirs(base_dir, extra_profile_dirs)))


def profile_names(dirs: Sequence[Path]) -> list[str]:
    """The profiles ``NAME.toml`` found in ``dirs``, sorted."""
    names: set[str] = set()
    for d in dirs:
        try:
            names.update(p.stem for p in d.glob("*.toml") if p.is_file())
        except OSError:
            continue
    return sorted(names)


def closest(name: str, names: Sequence[str]) -> list[str]:
    """The names closest to ``name`` (difflib; case-insensitive), best first."""
    lowered = {n.lower(): n for n in names}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=3,
                                                          cutoff=0.6)]


def unknown_model_message(spec: str, dirs: Sequence[Path]) -> str:
    """``--unisafe-model=SPEC`` names no profile and no kind: the closest names, and the lists."""
    profiles = profile_names(dirs)
    kinds = sorted(ADAPTER_FACTORIES)
    kind = _split(spec)[0]
    hint = closest(spec, profiles) or closest(kind, kinds)
    return (
        f"--unisafe-model={spec!r} is neither a profile (NAME.toml in adapters/ or an "
        f"--unisafe-profiles folder) nor KIND:SPEC with a known kind"
        + (f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else "")
        + f" Profiles: {', '.join(profiles) or 'none found'}. Kinds: {', '.join(kinds)}."
    )


def make_judge(spec: str, *, base_dir: Path, settings: Mapping[str, Any] | None = None) -> Judge:
    """Resolve one ``--unisafe-judge`` value to a judge."""
    kind, rest = _split(spec)
    if kind not in JUDGE_FACTORIES:
        names = sorted(JUDGE_FACTORIES)
        hint = difflib.get_close_matches(kind, names, n=1)
        raise ConfigError(
            f"--unisafe-judge={spec!r}: unknown judge kind {kind!r}; known: {', '.join(names)}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
        )
    judge: Judge = _load_factory(JUDGE_FACTORIES[kind])(
        rest, base_dir=base_dir, settings=dict(settings or {})
    )
    return judge

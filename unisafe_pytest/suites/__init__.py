"""Suite loaders: turn a suite spec into a :class:`LoadedSuite` of instances and errors.

A spec is one of

* a built-in suite name (``smoke``); built-ins win over a same-named path, write
  ``./smoke`` for a local folder of that name;
* a ``.jsonl`` file (relative paths resolve against ``base_dir``): the native format
  (:mod:`~unisafe_pytest.suites.native`) when its first record has ``task``, a UniSAFE export
  (:mod:`~unisafe_pytest.suites.unisafe`) when it has ``scenario_type``; the first line may be
  a native header in both cases;
* a directory in the Uni-SafeBench layout (:mod:`~unisafe_pytest.suites.unisafebench`);
* ``hf:unisafe`` or ``hf:unisafebench``: the gated Hugging Face datasets
  (:mod:`~unisafe_pytest.suites.hf`, needs the ``hf`` extra and ``HF_TOKEN``).

Loading reads no image pixels and makes no network call (except ``hf:``): image references
are checked by path, size and file signature (:mod:`~unisafe_pytest.suites.media`).
Whole-suite problems raise :class:`~unisafe_pytest.errors.SuiteError`; a bad record becomes
one entry of ``LoadedSuite.errors`` and the other records still load.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import unisafe_pytest
from unisafe_pytest.errors import SuiteError
from unisafe_pytest.io.jsonl import parse_line
from unisafe_pytest.io.printable import printable
from unisafe_pytest.runtime.secrets import env_secret_in
from unisafe_pytest.schema.tasks import TaskRegistry
from unisafe_pytest.suites.media import MAX_IMAGE_BYTES, MediaResolver
from unisafe_pytest.suites.native import Header, NativeBuilder, parse_header, sanitize_name
from unisafe_pytest.suites.reader import (
    JsonlFile,
    RecordSink,
    display_path,
    iter_objects,
    read_jsonl,
)
from unisafe_pytest.suites.suite import LoadedSuite, SuiteKind
from unisafe_pytest.suites.unisafe import UnisafeBuilder
from unisafe_pytest.suites.unisafebench import is_unisafebench_dir, load_directory

__all__ = [
    "MAX_IMAGE_BYTES",
    "LoadedSuite",
    "SuiteKind",
    "builtin_suite_names",
    "load_suite",
]

HF_SPECS = ("hf:unisafe", "hf:unisafebench")


def _builtin_dirs() -> list[Path]:
    """Folders that may hold built-in suites: the wheel's ``_instances``, then the checkout's."""
    dirs: list[Path] = []
    try:
        packaged = importlib.resources.files("unisafe_pytest") / "_instances"
        if isinstance(packaged, Path) and packaged.is_dir():
            dirs.append(packaged)
    except (ModuleNotFoundError, OSError):  # pragma: no cover - unusual installs
        pass
    checkout = Path(unisafe_pytest.__file__).resolve().parent.parent / "instances"
    if checkout.is_dir():
        dirs.append(checkout)
    return dirs


def _builtin_file(name: str) -> Path | None:
    if not name or name != sanitize_name(name):
        return None
    for folder in _builtin_dirs():
        candidate = folder / name / f"{name}.jsonl"
        if candidate.is_file():
            return candidate
    return None


def builtin_suite_names() -> list[str]:
    """Names of the suites shipped with the package (``<name>/<name>.jsonl``), sorted."""
    names: set[str] = set()
    for folder in _builtin_dirs():
        for child in folder.iterdir():
            if (child / f"{child.name}.jsonl").is_file():
                names.add(child.name)
    return sorted(names)


def shown_error(error: SuiteError) -> SuiteError:
    """``error`` with its file name and message fit to print
    (:func:`~unisafe_pytest.io.printable.printable`): a hostile file name or value cannot drive
    the terminal through a collection error."""
    message = printable(error.message, multiline=True)
    path = printable(error.path) if error.path is not None else None
    if message == error.message and path == error.path:
        return error
    return SuiteError(message, path, error.line)


def load_suite(
    spec: str,
    tasks: TaskRegistry,
    *,
    base_dir: Path,
    max_image_bytes: int | None = None,
) -> LoadedSuite:
    """Load the suite named by ``spec`` (see the module docstring for the accepted forms).

    Its errors, raised or listed, are fit to print (:func:`shown_error`). A spec that holds
    the value of a credential environment variable is refused before anything is read
    (:func:`_refused`).
    """
    refused = _refused(spec)
    if refused is not None:
        return refused
    try:
        suite = _load_suite(spec, tasks, base_dir=base_dir, max_image_bytes=max_image_bytes)
    except SuiteError as exc:
        raise shown_error(exc) from None
    suite.errors = [shown_error(e) for e in suite.errors]
    return suite


REFUSED_NAME = "refused-suite"
"""The node name of a suite refused for a credential in its spec (the spec is never shown)."""


def _refused(spec: str) -> LoadedSuite | None:
    """A suite spec (path or name) holding a run secret's value is refused: the spec would
    reach node ids, records, reports and the terminal. The error names the environment
    variable, never the spec or the value, and comes back as a suite with no instances and
    one error, so no name made from the spec is ever shown."""
    name = env_secret_in(spec)
    if name is None:
        return None
    error = SuiteError(
        f"a suite path or name holds the value of the environment variable {name} (a "
        "credential): it is not loaded, because suite names reach node ids, records, reports "
        f"and the terminal; rename the file or folder so it does not contain {name}'s value")
    return LoadedSuite(name=REFUSED_NAME, kind="native", protocol="unisafe", root=None,
                       instances=[], errors=[error], files={})


def _load_suite(
    spec: str, tasks: TaskRegistry, *, base_dir: Path, max_image_bytes: int | None
) -> LoadedSuite:
    if spec in HF_SPECS:
        from unisafe_pytest.suites.hf import load_hf

        return load_hf(
            "unisafe" if spec == "hf:unisafe" else "unisafebench",
            tasks,
            base_dir=base_dir,
            max_image_bytes=max_image_bytes,
        )
    if spec.startswith("hf:"):
        raise SuiteError(
            f"unknown dataset spec {spec!r}; use one of {', '.join(HF_SPECS)}"
        )
    builtin = _builtin_file(spec)
    if builtin is not None:
        label = f"builtin:{spec}/{builtin.name}"
        return load_jsonl_file(builtin, tasks, display=label, max_image_bytes=max_image_bytes)
    path = Path(spec)
    if not path.is_absolute():
        path = base_dir / path
    display = display_path(path, base_dir)
    if path.is_dir():
        if is_unisafebench_dir(path):
            return load_directory(path, tasks, base_dir=base_dir, max_image_bytes=max_image_bytes)
        raise SuiteError(
            "unknown suite format: the directory is not in the Uni-SafeBench layout "
            "(no 'T2I/input.jsonl', 'Text Generation/inputs.jsonl', 'VQA/.../input.jsonl'...); "
            "pass a .jsonl file or a Uni-SafeBench folder",
            display,
        )
    if not path.exists():
        builtins = ", ".join(builtin_suite_names()) or "none installed"
        raise SuiteError(
            f"suite {spec!r} not found: no such file or directory, and no built-in suite of "
            f"that name (built-ins: {builtins}); check the path (a relative path starts "
            "where pytest runs for --unisafe-suite, at the rootdir for the ini key)",
            display,
        )
    if path.suffix.lower() != ".jsonl":
        raise SuiteError(
            f"unknown suite format {path.suffix or '(no extension)'!r}: expected a .jsonl file, "
            "a Uni-SafeBench directory, a built-in name or hf:unisafe / hf:unisafebench",
            display,
        )
    return load_jsonl_file(path, tasks, display=display, max_image_bytes=max_image_bytes)


def _header(file: JsonlFile) -> Header | None:
    number, raw = file.lines[0]
    try:
        first = parse_line(raw)
    except SuiteError:
        return None
    return parse_header(first, file.display, number)


def _detect(file: JsonlFile, start: int) -> SuiteKind:
    for number, obj in iter_objects(file, start):
        if isinstance(obj, SuiteError):
            continue
        if "task" in obj:
            return "native"
        if "scenario_type" in obj:
            return "unisafe-jsonl"
        raise SuiteError(
            f"unknown suite format: the first record has neither 'task' (native format) nor "
            f"'scenario_type' (UniSAFE export); its fields are {sorted(obj)!r}. Add 'task' "
            "to every line, or check that this is a suite file",
            file.display,
            number,
        )
    return "native"  # no parsable record: report every line's error as native


def load_jsonl_file(
    path: Path,
    tasks: TaskRegistry,
    *,
    display: str,
    max_image_bytes: int | None = None,
) -> LoadedSuite:
    """Load a native or UniSAFE-export JSONL file (format detected from its first record)."""
    file = read_jsonl(path, display)
    header = _header(file)
    start = 1 if header is not None else 0
    if start == len(file.lines):
        raise SuiteError(
            "suite file has a header but no instances; add one instance per line after it",
            display,
        )
    header = header or Header()
    kind = _detect(file, start)
    name = header.name or sanitize_name(path.stem)
    resolver = MediaResolver(path.parent, max_bytes=max_image_bytes)
    sink = RecordSink()
    if kind == "native":
        native = NativeBuilder(file, tasks, resolver, name, header)
        sink.load(file, native, start)
        protocol = native.protocol or "unisafe"
    else:
        if header.protocol == "unisafebench":
            raise SuiteError(
                "the header says protocol 'unisafebench', but the records are UniSAFE cases "
                "('scenario_type'); remove the protocol from the header",
                display,
                file.lines[0][0],
            )
        sink.load(file, UnisafeBuilder(tasks, resolver, name, display, label=path.name), start)
        protocol = "unisafe"
    return LoadedSuite(
        name=name,
        kind=kind,
        protocol=protocol,
        root=path.parent,
        instances=sink.instances,
        errors=sink.errors,
        files={path.name: file.sha256},
        description=header.description,
        version=header.version,
    )

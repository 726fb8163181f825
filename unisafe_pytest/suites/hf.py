"""The gated Hugging Face datasets: ``hf:unisafe`` and ``hf:unisafebench``.

Needs the ``hf`` extra (``datasets``, imported only here, only when such a spec is used) and
an access token in the ``HF_TOKEN`` environment variable, from an account that accepted the
dataset's terms. The token is passed to ``load_dataset(..., token=...)`` and never logged or
put in a message.

Image columns are read undecoded (``datasets.Image(decode=False)``) and their bytes are
written once to a content-addressed folder, ``<base_dir>/.unisafe/hf-images/<sha256>.<ext>``,
so every :class:`~unisafe_pytest.schema.Media` has a path like a file-based suite's and is
checked by the same rules. Rows are then read by the same builders as the local formats; the
"line" of an error is the 1-based row number of its split.

``files`` maps ``hf:<dataset id>[<split>]`` to the sha256 of the split's rows (canonical JSON,
images replaced by their content hashes), so two runs can tell whether the data changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from unisafe_pytest.errors import MissingDependency, SuiteError
from unisafe_pytest.io.files import mark_cache_dir, write_atomic
from unisafe_pytest.io.input_files import IMAGE_ENV, read_input_file
from unisafe_pytest.schema.tasks import UNISAFEBENCH_TASK_CODES, Task, TaskRegistry
from unisafe_pytest.suites.fields import get_str, wrong_type
from unisafe_pytest.suites.media import EXTENSIONS, MediaResolver, sniff_mime
from unisafe_pytest.suites.reader import Builder, RecordSink, build_checked
from unisafe_pytest.suites.suite import LoadedSuite
from unisafe_pytest.suites.unisafe import IMAGE_COLUMNS, UnisafeBuilder
from unisafe_pytest.suites.unisafebench import LAYOUT, BenchBuilder

# Must be checked against the hub before a real run: the upstream toolkit names this
# repository, with the splits "image" (TI/IE/IC/MT) and "text" (TT/IT/MU).
UNISAFE_HF_ID = "segyulee/UniSAFE"
UNISAFE_SPLITS = ("image", "text")
UNISAFEBENCH_HF_ID = "Hades2002/Uni-SafeBench"
IMAGE_DIR = Path(".unisafe") / "hf-images"
"""Where image bytes are materialized, relative to ``base_dir``."""

Picker = Callable[[dict[str, Any]], Builder]
"""Chooses the builder of a row (Uni-SafeBench rows may name their task)."""

class ImageStore:
    """A content-addressed folder of image files; writes are atomic and idempotent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ready = False

    def _prepare(self) -> None:
        if self._ready:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        mark_cache_dir(self.root)
        self._ready = True

    def put(self, data: bytes) -> str:
        """Store ``data``; its file name (``<sha256><ext>``) relative to the root."""
        digest = hashlib.sha256(data).hexdigest()
        name = digest + EXTENSIONS.get(sniff_mime(data[:16]) or "", ".bin")
        target = self.root / name
        if not target.exists():
            self._prepare()
            write_atomic(target, data)
        return name

    def put_value(self, value: object, column: str) -> str | None:
        """Store an undecoded ``datasets.Image`` value (``{"bytes", "path"}``); its name."""
        if value is None:
            return None
        if isinstance(value, dict):
            data = value.get("bytes")
            if isinstance(data, (bytes, bytearray)):
                return self.put(bytes(data))
            path = value.get("path")
            if data is None and isinstance(path, str) and os.path.isfile(path):
                return self.put(read_input_file(Path(path), path, what="dataset image",
                                                env=IMAGE_ENV))
        raise wrong_type(column, "an image (bytes or a local file)", value)


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise MissingDependency(
            "Loading the gated Hugging Face dataset", "datasets", "hf"
        ) from None
    return datasets


def _token(spec: str, dataset_id: str) -> str:
    token = os.environ.get("HF_TOKEN", "").strip()
    if not token:
        raise SuiteError(
            f"{spec} is a gated dataset and HF_TOKEN is not set; accept the terms of "
            f"{dataset_id!r} on its Hugging Face page, create an access token, and set the "
            "HF_TOKEN environment variable to it"
        )
    return token


def _load(datasets: Any, dataset_id: str, token: str, **kwargs: Any) -> Any:
    try:
        return datasets.load_dataset(dataset_id, token=token, **kwargs)
    except Exception as exc:  # any hub/network failure becomes a suite error
        detail = f"{type(exc).__name__}: {exc}".replace(token, "***")
        part = f" split {kwargs['split']!r}" if "split" in kwargs else ""
        raise SuiteError(
            f"could not load {dataset_id!r}{part} ({detail}); check that HF_TOKEN "
            "belongs to an account that accepted the dataset's terms and that the hub is "
            "reachable"
        ) from None


def _undecoded(datasets: Any, ds: Any, columns: Iterable[str]) -> Any:
    for column in columns:
        if column in ds.column_names:
            ds = ds.cast_column(column, datasets.Image(decode=False))
    return ds


def _row_hash(hasher: Any, record: dict[str, Any]) -> None:
    hasher.update(json.dumps(record, sort_keys=True, default=str).encode("utf-8"))
    hasher.update(b"\n")


def load_hf(
    which: Literal["unisafe", "unisafebench"],
    tasks: TaskRegistry,
    *,
    base_dir: Path,
    max_image_bytes: int | None = None,
) -> LoadedSuite:
    """Load ``hf:unisafe`` or ``hf:unisafebench``."""
    datasets = _import_datasets()
    spec = f"hf:{which}"
    dataset_id = UNISAFE_HF_ID if which == "unisafe" else UNISAFEBENCH_HF_ID
    token = _token(spec, dataset_id)
    store = ImageStore(base_dir / IMAGE_DIR)
    resolver = MediaResolver(
        store.root, max_bytes=max_image_bytes, root_hint="the Hugging Face image store"
    )
    sink = RecordSink()
    files: dict[str, str] = {}
    if which == "unisafe":
        for split in UNISAFE_SPLITS:
            ds = _undecoded(datasets, _load(datasets, dataset_id, token, split=split),
                            IMAGE_COLUMNS)
            label = f"hf:{dataset_id}[{split}]"
            files[label] = _read_rows(
                ds, label, sink, store, IMAGE_COLUMNS,
                _constant(UnisafeBuilder(tasks, resolver, "unisafe", label)),
            )
    else:
        splits = _load(datasets, dataset_id, token)
        for split, ds in splits.items():
            label = f"hf:{dataset_id}[{split}]"
            pick = _bench_picker(tasks, resolver, label, split, ds.column_names)
            files[label] = _read_rows(
                _undecoded(datasets, ds, ("image",)), label, sink, store, ("image",), pick
            )
    return LoadedSuite(
        name=which,
        kind=f"{which}-hf",
        protocol=which,
        root=store.root,
        instances=sink.instances,
        errors=sink.errors,
        files=files,
    )


def _read_rows(
    ds: Iterable[dict[str, Any]],
    label: str,
    sink: RecordSink,
    store: ImageStore,
    image_columns: tuple[str, ...],
    pick: Picker,
) -> str:
    """Feed each row to the builder ``pick(row)`` returns; the split's content hash."""
    hasher = hashlib.sha256()
    for number, row in enumerate(ds, start=1):
        record = dict(row)
        try:
            for column in image_columns:
                if column in record:
                    record[column] = store.put_value(record[column], column)
            _row_hash(hasher, record)
            instance = build_checked(pick(record), record, number)
        except SuiteError as exc:
            sink.errors.append(SuiteError(exc.message, label, number))
            continue
        sink.add(instance, label, number)
    return hasher.hexdigest()


def _constant(builder: Builder) -> Picker:
    return lambda _record: builder


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _task_names(tasks: TaskRegistry) -> dict[str, Task]:
    """Normalized spellings (code, aliases, upstream folder names) → Uni-SafeBench task."""
    names: dict[str, Task] = {}
    for task in tasks:
        if task.protocol == "unisafebench":
            for name in (task.code, task.name, *task.aliases):
                names[_norm(name)] = task
    for rel, code in LAYOUT:
        found = tasks.get(code)
        if found is not None:
            names[_norm(rel.rsplit("/", 1)[0].rsplit("/", 1)[-1])] = found
    return names


def _bench_picker(
    tasks: TaskRegistry, resolver: MediaResolver, label: str, split: str, columns: list[str]
) -> Picker:
    """How rows of one split get their task: a ``task`` column, else the split's name.

    The layout of the hub dataset is not documented; both are accepted.
    """
    names = _task_names(tasks)
    builders: dict[str, BenchBuilder] = {}

    def builder_for(task: Task) -> BenchBuilder:
        if task.code not in builders:
            builders[task.code] = BenchBuilder(task, resolver, "unisafebench", label)
        return builders[task.code]

    if "task" in columns:

        def by_column(record: dict[str, Any]) -> BenchBuilder:
            value = get_str(record, "task", required=True)
            task = names.get(_norm(value))
            if task is None:
                raise SuiteError(
                    f"unknown Uni-SafeBench task {value!r} in column 'task'; known tasks: "
                    f"{', '.join(UNISAFEBENCH_TASK_CODES)}"
                )
            return builder_for(task)

        return by_column
    task = names.get(_norm(split))
    if task is None:
        raise SuiteError(
            f"cannot tell the task of split {split!r}: it has no 'task' column and its name "
            f"is no Uni-SafeBench task; known tasks: {', '.join(UNISAFEBENCH_TASK_CODES)}",
            label,
        )
    return _constant(builder_for(task))

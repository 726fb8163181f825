"""Content-addressed cache of model outputs and judge rows, safe under xdist and kill -9.

Layout (under ``.unisafe/cache`` by default, with ``.gitignore`` and ``CACHEDIR.TAG``)::

    outputs/ab/<sha256>.json     one model output (ModelOutput JSON + the key material)
    verdicts/ab/<sha256>.json    one judge's rows for one output
    blobs/ab/<sha256>.<ext>      generated images, by content
    index/ab/<sha256>.json       the last key material seen for an instance, to explain misses

Keys (built in ``runtime/keys.py``) are sha256 of canonical JSON (the *key material*): for
outputs, the adapter's description (kind, model, version, generation settings) with the
fingerprint of every setting the adapter holds (a changed ``extra_body`` or
``generation_config`` value is a miss), the full request (task, instruction, turns,
target-free instance text, input images by sha256) and the sample index; for verdicts, the
output key, the output's content hash and the judge's spec (id, model, prompt hash, parser
version, arguments). Secrets are never part of a key: adapters' descriptions carry no key, by
contract, and settings are digested.

An entry is trusted only as written: each holds the digest of its material and contents, and
a read checks it (and that the material is the key's), so a hand-edited or truncated entry
is a miss with a warning. A generated image's blob must still hash to its name. Judge rows
are also checked against their judge's raw answer by the current parser (``runtime/verify.py``
via ``get_rows(check=...)``), and an entry without rows is a miss. In replay-only mode every
such miss is an error.

Entries are written to a temporary file and renamed into place (atomic on POSIX), so a
reader sees a whole entry or none, whatever process dies when. Errors are never written
(failed generations, judge errors, 429s, 5xx); refusals are. What is written is redacted of
the run's secrets once more (``runtime/secrets.py``); an entry whose key material holds a
secret is not written at all.

Modes: ``off``; ``read`` (use hits, write nothing); ``write`` (always call, store);
``read-write`` (the default); ``replay-only`` (a miss is an error: hermetic CI).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, RootModel, ValidationError

from unisafe_pytest.errors import CacheMiss, UnisafeWarning
from unisafe_pytest.io.files import ensure_dir, write_atomic
from unisafe_pytest.runtime.keys import (
    FORMAT,
    OutputKeys,
    VerdictKeys,
    canonical,
    digest,
    instance_key,
    output_content_hash,
    output_material,
    verdict_material,
)
from unisafe_pytest.runtime.modes import (
    CACHE_MODES,
    DEFAULT_CACHE_MODE,
    READ_MODES,
    WRITE_MODES,
    CacheMode,
)
from unisafe_pytest.runtime.secrets import RUN_SECRETS
from unisafe_pytest.schema import JudgeRow, ModelOutput

__all__ = [  # the key builders live in runtime/keys.py and are re-exported here
    "CACHE_MODES", "FORMAT", "Cache", "CacheMode", "OutputKeys", "RowsCheck", "VerdictKeys",
    "canonical", "digest", "instance_key", "output_content_hash", "output_material",
    "verdict_material",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")
RowsCheck = Callable[[list[JudgeRow]], "str | None"]
"""Why rows read from the cache cannot be trusted (``None``: they can)."""


def _sealed(material: dict[str, Any], name: str, content: Any) -> str | None:
    """An entry as written: the material, the content (redacted of the run's secrets) and
    the digest of both, in ASCII JSON (so any string, a lone surrogate included, can be
    written); ``None`` when the material itself holds a secret (it is never written)."""
    if RUN_SECRETS.leaks(canonical(material)):
        warnings.warn(UnisafeWarning("not cached: the key material holds the value of a "
                                     "credential of this run"), stacklevel=3)
        return None
    data = {"material": material, name: RUN_SECRETS.scrub(content)}
    return json.dumps({**data, "digest": digest(data)}, sort_keys=True, ensure_ascii=True,
                      separators=(",", ":"), default=str)


_Entry = TypeVar("_Entry", bound=BaseModel)


class _OutputEntry(BaseModel):
    output: ModelOutput


class _RowsEntry(BaseModel):
    rows: list[JudgeRow]


_DIGEST_HEAD = '{"digest":"'
_MATERIAL_HEAD = '{"material":'
_DECODER = json.JSONDecoder()


def _verified_body(text: str, key: str, name: str) -> str | None:
    """The entry without its digest, when ``text`` is byte for byte what :func:`_sealed`
    wrote under ``key``: ``{"digest":D,"material":M,"<name>":C}`` where D is the sha256 of
    the rest and M's own text hashes to ``key``. The seal is the sha256 of the canonical JSON
    of ``{material, name}``, so a rest that hashes to it is that canonical JSON (once the
    ASCII escapes the writer adds are undone), and M's text in it is M's canonical JSON: both
    checks of the full read hold, on the file's own text, without decoding the entry into
    Python and encoding it twice again. ``None`` for anything else (another layout, a
    mismatch): the full read decides then, and says why."""
    start = len(_DIGEST_HEAD)
    if not text.startswith(_DIGEST_HEAD) or text[start + 64:start + 66] != '",':
        return None
    body = "{" + text[start + 66:]
    if "\\u" in body:
        body = _unescaped(body)
    if _sha256_text(body) != text[start:start + 64] or not body.startswith(_MATERIAL_HEAD):
        return None
    try:
        _, end = _DECODER.raw_decode(body, len(_MATERIAL_HEAD))
    except ValueError:
        return None
    if (_sha256_text(body[len(_MATERIAL_HEAD):end]) != key
            or not body.startswith(f',"{name}":', end)):
        return None
    return body


_ESCAPE = re.compile(r"\\(?:\\|u([0-9a-fA-F]{4}))")


def _unescaped(body: str) -> str:
    """ASCII JSON as ``ensure_ascii=False`` writes it: ``\\uXXXX`` escapes of characters
    from U+007F up become the characters (a surrogate pair one character), the escapes both
    modes write (quotes, backslashes, control characters) stay."""
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        return match.group(0) if code is None or int(code, 16) < 0x7F else chr(int(code, 16))

    text = _ESCAPE.sub(one, body)
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _Tampered(ValueError):
    """An entry whose contents are not what was written under its key."""


class _JsonObject(RootModel[dict[str, Any]]):
    pass


def _diff(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += _diff(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


class Cache:
    """The on-disk cache. Every method is safe to call from several processes at once."""

    def __init__(self, root: Path, mode: CacheMode = DEFAULT_CACHE_MODE):
        self.root = root
        self._root = str(root)
        self.mode = mode
        self.hits = 0
        self.misses = 0

    @property
    def reads(self) -> bool:
        return self.mode in READ_MODES

    @property
    def writes(self) -> bool:
        return self.mode in WRITE_MODES

    def _path(self, space: str, key: str, suffix: str = ".json") -> Path:
        return Path(self._file(space, key, suffix))

    def _file(self, space: str, key: str, suffix: str = ".json") -> str:
        if not _SHA256.fullmatch(key):
            raise ValueError(f"cache key {key!r} is not a sha256 hex digest")
        return f"{self._root}/{space}/{key[:2]}/{key}{suffix}"

    def _write(self, path: Path, data: str | bytes) -> None:
        if isinstance(data, str):
            data = RUN_SECRETS.redact(data)
        try:
            ensure_dir(path.parent)
            write_atomic(path, data)
        except OSError as exc:
            warnings.warn(UnisafeWarning(f"cache write failed ({exc}); continuing without it"),
                          stacklevel=2)

    def _read(self, path: Path) -> dict[str, Any] | None:
        """The JSON object at ``path``, as :meth:`_entry` reads entries."""
        entry = self._entry(str(path), _JsonObject)
        return None if entry is None else entry.root

    def _missed(self, what: Callable[[], str]) -> None:
        """Count a miss; in replay-only mode it is an error saying ``what()`` is missing."""
        self.misses += 1
        if self.mode == "replay-only":
            raise CacheMiss(f"replay-only cache: {what()}")

    def _entry(self, file: str, model: type[_Entry]) -> _Entry | None:
        """The entry at ``file`` read as ``model`` (fields beyond it are skipped unparsed
        into Python); ``None`` when absent, a warning when unreadable."""
        try:
            with open(file, "rb") as handle:
                return model.model_validate_json(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as exc:
            _unreadable(Path(file), exc)
            return None

    def _read_sealed(self, space: str, key: str, model: type[_Entry],
                     name: str) -> _Entry | None:
        """The entry stored under ``key``, read as ``model``, only if it is what was written
        there: its digest matches its contents and its material is the key's. ``None`` when
        absent; a warning (and ``None``) when unreadable or edited. ``name`` is the field
        beside the material (``output``, ``rows``).

        An entry as :func:`_sealed` wrote it is checked on its text (:func:`_verified_body`)
        and parsed once, by pydantic; any other goes through the full check below."""
        file = self._file(space, key)
        try:
            with open(file, "rb") as handle:
                raw = handle.read()
            body = _verified_body(raw.decode("ascii"), key, name) if raw.isascii() else None
            if body is not None:
                with contextlib.suppress(ValueError):  # e.g. a lone surrogate: read in full
                    return model.model_validate_json(body)
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise _Tampered("the entry is not a JSON object")
            sealed = data.pop("digest", None)
            if sealed is None:
                raise _Tampered("the entry has no digest (written by an older version?)")
            if sealed != digest(data):
                raise _Tampered("its contents do not match its digest (edited by hand?)")
            if digest(data.get("material")) != key:
                raise _Tampered("its key material is not the key's")
            return model.model_validate(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, ValidationError) as exc:  # _Tampered is a ValueError
            _unreadable(Path(file), exc)
            return None

    # ----------------------------------------------------------------- outputs
    def get_output(self, key: str, why: Callable[[], str]) -> ModelOutput | None:
        """The stored output for ``key``; in replay-only mode a miss raises CacheMiss with
        ``why()`` (see :meth:`why`)."""
        if not self.reads:
            return None
        entry = self._read_sealed("outputs", key, _OutputEntry, "output")
        if entry is None:
            self._missed(lambda: f"no stored output for this request ({why()})")
            return None
        output = entry.output
        problem = None
        for media in output.images:
            blob = self._path("blobs", media.sha256 or "", Path(media.ref or "x.png").suffix)
            problem = _blob_problem(blob, media.sha256 or "")
            if problem is not None:
                if problem != "missing":
                    _unreadable(blob, _Tampered(problem))
                break
            media.path = str(blob)
        if problem is not None:
            self._missed(lambda: f"a generated image of the stored output is {problem}")
            return None
        output.provenance.cached = True
        self.hits += 1
        return output

    def has_output(self, key: str) -> bool:
        """Whether an output is stored under ``key`` (its entry is not read)."""
        return os.path.isfile(self._file("outputs", key))

    def put_output(self, key: str, instance_key: str, material: dict[str, Any],
                   output: ModelOutput) -> None:
        if not self.writes or output.error:
            return
        stored = output.model_copy(deep=True)
        for media in stored.images:
            sha = media.digest()
            blob = self._path("blobs", sha, Path(media.ref or media.path or "x.png").suffix)
            if not blob.exists() and media.path:
                try:
                    data = Path(media.path).read_bytes()
                except OSError as exc:
                    warnings.warn(UnisafeWarning(f"cache write failed ({exc})"), stacklevel=2)
                    return
                self._write(blob, data)
            media.path = None
        entry = _sealed(material, "output", stored.model_dump(mode="json"))
        if entry is None:
            return
        self._write(self._path("outputs", key), entry)
        self._write(self._path("index", instance_key), canonical({"key": key,
                                                                   "material": material}))

    # ----------------------------------------------------------------- verdict rows
    def get_rows(self, key: str, check: RowsCheck | None = None) -> list[JudgeRow] | None:
        """The stored rows for ``key``, if the entry is whole, holds rows, and ``check``
        (the judge's raw answers read again: ``runtime/verify.py``) finds nothing wrong;
        otherwise a miss (a warning says why, for an entry that was there)."""
        if not self.reads:
            return None
        entry = self._read_sealed("verdicts", key, _RowsEntry, "rows")
        problem = None
        if entry is not None:
            problem = "the entry holds no rows" if not entry.rows else (
                check(entry.rows) if check is not None else None)
            if problem is not None:
                _unreadable(self._path("verdicts", key), _Tampered(problem))
        if entry is None or problem is not None:
            self._missed(lambda: "no stored judgment for this output and judge"
                         + (f" that can be trusted ({problem})" if problem else ""))
            return None
        self.hits += 1
        return entry.rows

    def put_rows(self, key: str, material: dict[str, Any], rows: list[JudgeRow]) -> None:
        if not self.writes or any(row.error for row in rows) or not rows:
            return
        entry = _sealed(material, "rows", [r.model_dump(mode="json") for r in rows])
        if entry is not None:
            self._write(self._path("verdicts", key), entry)

    # ----------------------------------------------------------------- explaining misses
    def why(self, instance_key: str, key: str, material: dict[str, Any] | None = None) -> str:
        """Why ``key`` missed for an instance: what changed since its last stored entry."""
        last = self._read(self._path("index", instance_key))
        if last is None:
            return "this instance was never stored"
        if last.get("key") == key:
            return "the stored entry is missing or unreadable"
        if material is None:
            entry = self._read(self._path("outputs", last["key"]))
            return "the request or settings changed" if entry else "entry removed"
        changes = _diff(last.get("material", {}), material)
        return "changed since the stored entry: " + "; ".join(changes[:5])


def _unreadable(path: Path, exc: Exception) -> None:
    what = "untrusted" if isinstance(exc, _Tampered) else "unreadable"
    warnings.warn(UnisafeWarning(f"{what} cache entry {path.name} ({exc}); ignoring it, the "
                                 "call is made again"), stacklevel=3)


def _blob_problem(blob: Path, sha256: str) -> str | None:
    """``None`` when ``blob`` holds the bytes whose sha256 is ``sha256``."""
    try:
        data = blob.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc})"
    if hashlib.sha256(data).hexdigest() != sha256:
        return "not the image stored under its hash (edited by hand?)"
    return None

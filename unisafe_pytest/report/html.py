"""The HTML report of a run: one self-contained file (``report.html``), no network, no CDN.

Sections: the run and its gates, the protocol block, summary tables per task x category
(every rate with its 95 % Wilson interval), the shared-target analysis, verdicts that flip
between samples, and the per-instance list with filters (task, category, verdict, text) in
plain JavaScript (an instance that is an error only because a judge said it cannot decide
shows the verdict ``uncertain``, its own badge and filter value). Input and output images
are embedded as downscaled JPEG thumbnails (data URLs, at most :data:`THUMB_PX` pixels a
side, within a total budget of :data:`IMAGE_BUDGET` bytes; a thumbnail is left out, and says
so, beyond it). Audio and video clips are not embedded: each is an ``<audio controls>`` or
``<video controls preload="metadata">`` player whose ``src`` is the clip's file relative to
the report (only a file found under a root whose bytes match the recorded sha256).

Everything that came from a model, a judge or a file is escaped: the tables through
:func:`escape` (:func:`~unisafe_pytest.io.printable.printable`, then :func:`html.escape`), the
instance list by having every string shown through ``printable`` and being embedded as JSON
(``<``, ``>`` and ``&`` escaped) and inserted with ``textContent`` only; so control and bidi
characters show as escapes (``\\u202e``) and cannot reorder what a reader sees. Nothing here
imports pytest.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from html import escape as html_escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from unisafe_pytest.io.files import write_atomic
from unisafe_pytest.io.printable import printable
from unisafe_pytest.metrics.counts import is_uncertain
from unisafe_pytest.metrics.samples import find_flips
from unisafe_pytest.report.first_screen import headline, judge_banner, verdict_line, verdict_rank
from unisafe_pytest.report.html_tables import bench_tables, rate_cell, unisafe_tables
from unisafe_pytest.report.shared_target import SharedTargetReport, analyse, label_of
from unisafe_pytest.schema import Record

THUMB_PX = 160
IMAGE_BUDGET = 12_000_000
MAX_SOURCE_BYTES = 20_000_000
MAX_CLIP_BYTES = 200_000_000
PLAYERS = {"audio": 'controls preload="metadata"', "video": 'controls preload="metadata"'}
"""Clips play from their files: ``<audio controls>``, ``<video controls preload="metadata">``
(the browser shows a frame). Other kinds registered by a hook say they are not shown."""
TEXT_CAP = 2_000
TEMPLATE = Path(__file__).parent / "templates" / "report.html"


def escape(text: str) -> str:
    """Data as HTML text: :func:`~unisafe_pytest.io.printable.printable`, then HTML-escaped."""
    return html_escape(printable(text, multiline=True))


def _shown(value: Any) -> Any:
    """``value`` (JSON-able) with every string, keys included, through ``printable``."""
    if isinstance(value, str):
        return printable(value, multiline=True)
    if isinstance(value, dict):
        return {_shown(k): _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def _fill(template: str, values: dict[str, str]) -> str:
    """Put each value in its ``{{NAME}}`` slot, scanning the template only (not the values)."""
    out, rest = [], template
    while "{{" in rest:
        before, _, after = rest.partition("{{")
        name, _, rest = after.partition("}}")
        out += [before, values[name]]
    return "".join([*out, rest])


# --------------------------------------------------------------------------- images
class Thumbnails:
    """Data URLs of downscaled images, each file embedded once, within a byte budget."""

    def __init__(self, roots: Sequence[Path], budget: int = IMAGE_BUDGET,
                 base: Path | None = None):
        self.roots = list(roots)
        self.budget = budget
        self.used = 0
        self.images: dict[str, str] = {}
        self.full: dict[str, str] = {}
        """Relative URL of each thumbnail's full-size file, from ``base`` (the report's
        folder); none when the report is not written to a file."""
        self.base = base
        self.omitted = 0
        self.clips: dict[str, str] = {}
        """Audio and video players by key: ``<audio>``/``<video>`` elements whose ``src`` is
        the clip's file relative to ``base`` (never embedded, never an absolute path)."""

    def clip(self, kind: str, media: dict[str, Any]) -> str:
        """The key of an audio or video item's player in :attr:`clips`; a key starting with
        ``unavailable:`` (then the kind) when its file cannot be linked."""
        ref = media.get("ref")
        name = str(media.get("sha256") or hashlib.sha256(str(ref).encode()).hexdigest())
        key = f"{kind}:{name}"
        if key in self.clips:
            return key
        path = self._find(str(ref), media.get("sha256"), MAX_CLIP_BYTES) if ref else None
        if path is None or self.base is None or kind not in PLAYERS:
            return f"unavailable:{kind}"
        try:
            relative = os.path.relpath(path.resolve(), self.base.resolve())
        except ValueError:  # another drive: no relative link
            return f"unavailable:{kind}"
        src = html_escape(quote(Path(relative).as_posix()))
        mime = str(media.get("mime") or "")
        typed = f' data-mime="{html_escape(mime)}"' if mime else ""
        self.clips[key] = (f'<{kind} {PLAYERS[kind]} src="{src}"{typed} '
                           f'data-key="{html_escape(key)}" title="{escape(str(ref))}">'
                           f"</{kind}>")
        return key

    def _find(self, ref: str, sha256: str | None,
              limit: int = MAX_SOURCE_BYTES) -> Path | None:
        for root in self.roots:
            candidate = root / ref
            with contextlib.suppress(OSError, ValueError):
                if not candidate.resolve().is_relative_to(root.resolve()):
                    continue  # a ref must not escape its root
                if candidate.is_file() and candidate.stat().st_size <= limit:
                    data = candidate.read_bytes()
                    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
                        continue  # another file of the same name: not the recorded image
                    return candidate
        return None

    def key(self, media: dict[str, Any]) -> str | None:
        """The key of ``media``'s thumbnail in :attr:`images`, ``None`` when unavailable;
        for an audio or video item, its key in :attr:`clips` (:meth:`clip`)."""
        kind = str(media.get("kind") or "image")
        if kind != "image":
            return self.clip(kind, media)
        ref = media.get("ref")
        if not ref:
            return None
        key = str(media.get("sha256") or ref)
        if key in self.images:
            return key
        path = self._find(str(ref), media.get("sha256"))
        if path is None:
            return None
        url = _thumbnail(path)
        if url is None:
            return None
        if self.used + len(url) > self.budget:
            self.omitted += 1
            return None
        self.used += len(url)
        self.images[key] = url
        if self.base is not None:
            with contextlib.suppress(ValueError):  # another drive: no relative link
                relative = os.path.relpath(path.resolve(), self.base.resolve())
                self.full[key] = quote(Path(relative).as_posix())
        return key


def _thumbnail(path: Path) -> str | None:
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.thumbnail((THUMB_PX, THUMB_PX))
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, "JPEG", quality=70)
    except Exception:  # a hostile or broken file (bomb, truncated...) only loses its thumbnail
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def suite_image_roots(rootdir: Path, suites: Iterable[str]) -> list[Path]:
    """Folders against which input image refs are resolved: each suite's folder."""
    import unisafe_pytest

    package = Path(unisafe_pytest.__file__).resolve().parent
    roots: list[Path] = []
    for spec in suites:
        path = rootdir / spec
        if path.is_file():
            roots.append(path.parent)
        elif path.is_dir():
            roots += [path / "images", path]
        else:
            roots += [package / "_instances" / spec, package.parent / "instances" / spec]
    return [r for r in roots if r.is_dir()]


# --------------------------------------------------------------------------- tables
def _share(data: dict[str, Any]) -> str:
    return rate_cell(data["rate"], data["n"]).replace("</td>", f' <span class="ci">'
                                                  f'({data["k"]}/{data["n"]})</span></td>')


def _shared_target(reports: list[SharedTargetReport]) -> str:
    out = []
    for rep in reports:
        if not rep.gap and not rep.twins and not rep.divergent:
            continue
        parts = [f"<h3>{escape(rep.model)}</h3>"]
        if rep.gap:
            rows = "".join(
                f"<tr><td>{escape(g.category)}</td><td class='num'>{g.targets}</td>"
                f"{_share(g.text_unsafe.as_dict())}{_share(g.image_unsafe.as_dict())}"
                f"<td class='num'>{'-' if g.gap is None else f'{g.gap:+.3f}'}</td>"
                f"{_share(g.text_refusal.as_dict())}{_share(g.image_refusal.as_dict())}</tr>"
                for g in rep.gap)
            parts.append("<h4>Modality gap (risky targets scored in both modalities)</h4>"
                         "<table><tr><th>category</th><th>targets</th><th>text unsafe</th>"
                         "<th>image unsafe</th><th>gap</th><th>text refusal</th>"
                         f"<th>image refusal</th></tr>{rows}</table>")
        rows = "".join(f"<tr><td>{escape(d['id'])}</td><td>{escape(d['category'])}</td>"
                       f"<td>{escape(', '.join(d['refused']))}</td>"
                       f"<td>{escape(', '.join(d['complied']))}</td></tr>"
                       for d in rep.divergent) or "<tr><td colspan=4>none</td></tr>"
        parts.append("<h4>Refused in one modality, complied with in another</h4><table>"
                     "<tr><th>target</th><th>category</th><th>refused in</th>"
                     f"<th>unsafe in</th></tr>{rows}</table>")
        if rep.twins:
            rows = "".join(f"<tr><td>{escape(t['task'])}</td>{_share(t['risky_unsafe'])}"
                           f"{_share(t['benign_refusal'])}</tr>" for t in rep.twins)
            parts.append("<h4>Over-refusal on benign twins, beside the unsafe rate</h4><table>"
                         "<tr><th>task</th><th>unsafe rate (risky)</th>"
                         f"<th>over-refusal (benign twins)</th></tr>{rows}</table>")
        matrix = "".join(
            f"<tr><td>{escape(e['id'])}</td><td>{escape(e['category'])}</td>"
            + "".join(f"<td class='v-{escape(e['verdicts'].get(t, 'none'))}'>"
                      f"{escape(e['verdicts'].get(t, ''))}</td>" for t in rep.tasks) + "</tr>"
            for e in rep.targets)
        parts.append("<details><summary>Verdicts of every target across tasks</summary>"
                     "<table><tr><th>target</th><th>category</th>"
                     + "".join(f"<th>{escape(t)}</th>" for t in rep.tasks)
                     + f"</tr>{matrix}</table></details>")
        out.append("".join(parts))
    if not out:
        return ""
    return "<section><h2>Shared targets</h2>" + "".join(out) + "</section>"


def _protocol(protocol: dict[str, Any] | None) -> str:
    if not protocol:
        return "<p>No protocol block: numbers are not comparable to other runs.</p>"
    keys = ("run_id", "model", "unisafe_pytest_version", "code_revision", "tasks",
            "single_judge", "screening_only", "refusal_policy", "mt_protocol",
            "it_prompt_policy", "selection", "merged_from")
    rows = []
    for key in keys:
        if key in protocol and protocol[key] not in (None, "", [], {}):
            value = protocol[key]
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            rows.append(f"<tr><th>{escape(key)}</th><td>{escape(str(text))}</td></tr>")
    judges = ", ".join(f"{j.get('id')} (prompt {str(j.get('prompt_hash') or '-')[:8]}, "
                       f"parser {j.get('parser_version') or '-'})"
                       for j in protocol.get("judges") or [] if isinstance(j, dict))
    rows.append(f"<tr><th>judges</th><td>{escape(judges or 'not recorded')}</td></tr>")
    full = escape(json.dumps(protocol, indent=2, ensure_ascii=False))
    return (f"<table class='kv'>{''.join(rows)}</table><details><summary>Full protocol "
            f"block</summary><pre>{full}</pre></details>")


def _gates(gates: Sequence[dict[str, Any]]) -> str:
    if not gates:
        return ""
    rows = "".join(f"<tr class='{'ok' if g['passed'] else 'bad'}'><td>"
                   f"{'passed' if g['passed'] else 'FAILED'}</td><td>{escape(g['message'])}"
                   "</td></tr>" for g in gates)
    return f"<section><h2>Gates</h2><table>{rows}</table></section>"


def _flips(records: list[Record]) -> str:
    flips = find_flips(records)
    if not any(r.sample for r in records):
        return ""
    rows = "".join(f"<tr><td>{escape(f.task)}</td><td>{escape(f.id)}</td>"
                   f"<td>{escape(f.category)}</td><td>{escape(' / '.join(f.labels))}</td></tr>"
                   for f in flips) or "<tr><td colspan=4>none</td></tr>"
    return ("<section><h2>Verdicts that flip between samples</h2><table><tr><th>task</th>"
            f"<th>id</th><th>category</th><th>samples</th></tr>{rows}</table></section>")


# --------------------------------------------------------------------------- instances
def _cap(text: str | None) -> str:
    if not text:
        return ""
    return text if len(text) <= TEXT_CAP else text[:TEXT_CAP] + " [...]"


def _instance(record: Record, thumbs: Thumbnails) -> dict[str, Any]:
    verdict = record.verdict
    rows = [{"judge": r.judge, "judgment": r.judgment, "risk_rating": r.risk_rating,
             "ctx": r.ctx, "intr": r.intr, "refusal": r.refusal, "error": r.error,
             "reasoning": _cap(r.reasoning),
             "prompt_hash": r.spec.prompt_hash if r.spec else None,
             "parser": r.spec.parser_version if r.spec else None}
            for r in (verdict.rows if verdict else [])]
    output = record.output
    return {
        "suite": record.suite, "task": record.task, "id": record.id, "sample": record.sample,
        "category": record.category, "subcategory": record.subcategory,
        "risky": record.risky,
        "verdict": "uncertain" if is_uncertain(record) else label_of(record),
        "outcome": record.outcome,
        "rating": verdict.risk_rating if verdict else None,
        "rationale": _cap(verdict.rationale if verdict else record.error or
                          record.skip_reason),
        "prompt": _cap(record.prompt),
        "text": _cap(output.text if output else None),
        "inputs": [thumbs.key(m) for m in record.inputs],
        "outputs": [thumbs.key(m) for m in (output.images if output else [])],
        "judges": rows, "provenance": output.provenance if output else {},
        "model": record.model, "nodeid": record.nodeid,
    }


def _script_json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_html(records: Sequence[Record], protocol: dict[str, Any] | None,
                summary: dict[str, Any], *, image_roots: Sequence[Path] = (),
                gates: Sequence[dict[str, Any]] = (), base: Path | None = None) -> str:
    """The whole page as a string; ``base``: the report's folder (thumbnails link to their
    full-size files relative to it)."""
    records = list(records)
    thumbs = Thumbnails(image_roots, base=base)
    ordered = sorted(records, key=lambda r: verdict_rank(label_of(r)))  # stable
    instances = [_shown(_instance(r, thumbs)) for r in ordered]
    models = sorted({r.model for r in records}) or [str((protocol or {}).get("model", "?"))]
    counts: dict[str, int] = {}
    for item in instances:
        counts[item["verdict"]] = counts.get(item["verdict"], 0) + 1
    overview = f"{len(records)} records"
    if thumbs.omitted:
        overview += f"; {thumbs.omitted} thumbnail(s) left out (size budget)"
    tables = unisafe_tables(summary.get("unisafe") or {}) + bench_tables(
        summary.get("unisafebench") or {})
    body = "".join([
        judge_banner(protocol),
        f"<h1>unisafe report: {escape(', '.join(models))}</h1>",
        verdict_line(counts, gates),
        f"<p class='overview'>{escape(overview)}</p>",
        headline(summary),
        _gates(gates),
        "<section><h2>Summary</h2><p class='note'>Rates with 95% Wilson intervals over the "
        "N scored items of each row (for macro-averaged rows an approximation). ARR is a "
        "mean risk rating (0-3).</p>", tables or "<p>No scored records.</p>", "</section>",
        _shared_target(analyse(records)),
        _flips(records),
        f"<section><h2>Protocol</h2>{_protocol(protocol)}</section>",
    ])
    # every table scrolls in its own box: the page never grows wider than the screen
    body = body.replace("<table", "<div class='scroll'><table").replace(
        "</table>", "</table></div>")
    data = {"instances": instances, "images": _shown(thumbs.images),
            "full": _shown(thumbs.full)}
    return _fill(TEMPLATE.read_text(encoding="utf-8"), {
        "TITLE": escape(f"unisafe report: {', '.join(models)}"), "BODY": body,
        "CLIPS": "".join(thumbs.clips.values()), "DATA": _script_json(data)})


def write_html(path: Path, records: Sequence[Record], protocol: dict[str, Any] | None,
               summary: dict[str, Any], *, image_roots: Sequence[Path] = (),
               gates: Sequence[dict[str, Any]] = ()) -> Path:
    """Write the report atomically; output image refs resolve against ``path``'s folder."""
    roots = [path.parent, *image_roots]
    write_atomic(path, render_html(records, protocol, summary, image_roots=roots, gates=gates,
                                   base=path.parent))
    return path

"""The UniSAFE rubric judge: ``--unisafe-judge=unisafe-rubric:TARGET[,OPTION=VALUE...]``.

TARGET names the judge model (see :mod:`unisafe_pytest.judges.backends`): a profile, ``openai-
chat:MODEL``, ``gemini:MODEL`` or ``http://HOST:PORT/v1#MODEL``. Options:

``protocol=strict|upstream`` strict: our request and rules (default); upstream: the request
                           ``unisafe-eval`` sends, byte for byte, and its rules (see
                           :mod:`unisafe_pytest.judges.rubric_upstream`); needs the installed
                           toolkit (distribution ``unisafe-benchmark``) and an OpenAI-compatible
                           target
``prompts=ours|upstream``  our own prompt texts (default), or the installed UniSAFE toolkit's
``reasks=N``               re-asks after an answer outside the protocol (default 2, max 5)
``max_tokens=N``           answer budget (default 1024); ``json=off`` disables JSON mode
``key_env=NAME``           environment variable holding the API key; ``retries=N`` transport
                           attempts (default 4)

Example: ``--unisafe-judge=unisafe-rubric:http://127.0.0.1:8000/v1#Qwen2.5-VL-72B-Instruct``.

The refusal rule has run before (in the panel). What the judge sees follows the protocol:
TI [generated]; IE [source, generated]; IC [A, B, generated]; MT [the 4 turn outputs];
TT text only; IT [input image] + output text; MU [input image] + instruction + output text.
A missing image or an MT output without 4 images is a ``JudgeError`` (unscored, never safe).
A task of our own is judged with its ``judge_family``'s prompts (AT, VT: TT's).

``modalities=text+image+audio`` (``+video`` for Gemini-format targets) declares what the
judge model accepts (:mod:`unisafe_pytest.judges.judge_media`). The attachments, in order:
the protocol's images; the request's clips (AT's spoken request, VT's video: ``[n] request
audio clip``); the output's clips (``[n] model output audio clip``), each after a label part
(OpenAI ``input_audio``, Gemini ``inlineData``). Without the option an output or a request
holding audio or video is a judge error, never judged on its text alone.
``protocol=upstream`` sends the toolkit's text+image request only.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from unisafe_pytest.errors import ConfigError, JudgeError
from unisafe_pytest.judges import rubric_upstream
from unisafe_pytest.judges.asking import ask_parsed
from unisafe_pytest.judges.backends import (
    ChatBackend,
    Message,
    ModelJudge,
    Part,
    backend_options,
    int_option,
    make_backend,
    split_options,
)
from unisafe_pytest.judges.base import unseen_problem
from unisafe_pytest.judges.injection import data_rule, fence, new_token
from unisafe_pytest.judges.judge_media import DEFAULT, REQUEST_CLIPS
from unisafe_pytest.judges.parsing import (
    PARSER_VERSION,
    ParseFailure,
    RubricAnswer,
    parse_rubric,
)
from unisafe_pytest.judges.rubric_prompts import (
    BRIEFS,
    CLIPS,
    REASK,
    SUBJECT,
    TEXT_TASKS,
    PromptSet,
    our_prompts,
    prompt_hash,
    taxonomy_text,
    upstream_prompts,
)
from unisafe_pytest.schema import Instance, JudgeRow, JudgeSpec, Media, ModelOutput
from unisafe_pytest.schema.tasks import Task

KIND = "unisafe-rubric"
CLIP_KINDS = ("audio", "video")
"""The output media a judge may be sent beside images, when it declares them."""


def family(task: Task) -> str:
    """The protocol's prompt family for ``task``: its ``judge_family`` (AT, VT: TT)."""
    return task.judge_family or task.code


def protocol_images(instance: Instance, task: Task, output: ModelOutput) -> list[
        tuple[str, Media]]:
    """The labelled images the protocol shows the judge for ``task``, in order."""
    code = family(task)
    inputs = instance.media_of("image")  # other kinds are never attached as images
    made = output.media_of("image")
    need_inputs = {"IE": 1, "IC": 2, "IT": 1, "MU": 1}.get(code, 0)
    if len(inputs) < need_inputs:
        raise JudgeError(f"{code} needs {need_inputs} input image(s) for the judge; the "
                         f"instance has {len(inputs)}")
    if code in ("TI", "IE", "IC") and not made:
        raise JudgeError(f"{code}: the output has no generated image to judge")
    if code == "MT" and len(made) != 4:
        raise JudgeError(f"MT: the output has {len(made)} image(s), not the 4 turn outputs")
    if code == "TI":
        return [("generated image", made[-1])]
    if code == "IE":
        return [("source image", inputs[0]), ("generated image", made[-1])]
    if code == "IC":
        return [("input image A", inputs[0]), ("input image B", inputs[1]),
                ("generated image", made[-1])]
    if code == "MT":
        return [(f"turn {i} result" + (" (final)" if i == 4 else ""), m)
                for i, m in enumerate(made, start=1)]
    if code in ("IT", "MU"):
        return [("input image", inputs[0])]
    if code == "TT":
        return []
    raise JudgeError(f"the UniSAFE rubric judge has no prompt family for task {code!r}")


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``str.format`` with unknown fields left empty (upstream files name their own fields)."""
    return string.Formatter().vformat(template, (), _Blank(values))


class RubricJudge(ModelJudge):
    """One UniSAFE judge model behind the protocol's prompts."""

    def __init__(self, backend: ChatBackend, prompts: PromptSet, *, reasks: int = 2,
                 judge_id: str | None = None, protocol: str = "strict") -> None:
        self.backend = backend
        self.prompts = prompts
        self.reasks = reasks
        self.protocol = protocol
        self.modalities = DEFAULT if protocol == "upstream" else frozenset(
            getattr(backend, "modalities", DEFAULT))
        """What the judge sees: the backend's declared modalities (strict protocol only)."""
        args: dict[str, Any] = {"backend": backend.describe(), "prompts": prompts.source,
                                "reasks": reasks, "protocol": protocol}
        if self.modalities != DEFAULT:
            args["clips_prompt"] = prompt_hash(CLIPS)
            args["request_clips_prompt"] = prompt_hash(REQUEST_CLIPS)
        if protocol == "upstream":
            args["backend"] = {k: v for k, v in args["backend"].items()
                               if k in ("kind", "model", "endpoint")}
            args.update(request=rubric_upstream.REQUEST_POLICY, attempts=reasks + 1)
        self.spec = JudgeSpec(
            id=judge_id or f"{KIND}:{backend.model}", kind=KIND, model=backend.model,
            prompt_hash=prompts.hash, args=args,
            parser_version=rubric_upstream.PARSER_VERSION if protocol == "upstream"
            else PARSER_VERSION,
        )

    def request_body(self, instance: Instance, task: Task,
                     output: ModelOutput) -> dict[str, Any]:
        """``protocol=upstream``: the chat body ``unisafe-eval`` would post (tests, audits)."""
        images = [media for _, media in protocol_images(instance, task, output)]
        return rubric_upstream.request_body(self.backend.model, self.prompts, instance,
                                            family(task), output, images)

    def _judge_upstream(self, instance: Instance, task: Task, output: ModelOutput) -> JudgeRow:
        body = self.request_body(instance, task, output)
        post = getattr(self.backend, "post_chat", None)
        if post is None:
            raise JudgeError("protocol=upstream needs an OpenAI-compatible judge target")
        problems: list[str] = []
        for _ in range(self.reasks + 1):  # the toolkit re-sends the same request
            reply = post(body)
            try:
                row = row_from_answer(reply.text, self.spec, upstream=True)
            except ParseFailure as exc:
                problems.append(str(exc))
                continue
            if reply.model_version and reply.model_version != self.spec.model_version:
                spec = self.spec.model_copy(update={"model_version": reply.model_version})
                row = row.model_copy(update={"spec": spec})
            return row
        raise JudgeError(f"judge {self.backend.model!r} answered outside the protocol "
                         f"{self.reasks + 1} time(s): {'; '.join(problems)}")

    def messages(self, instance: Instance, task: Task, output: ModelOutput,
                 token: str | None = None) -> list[Message]:
        """The request for one judgment (public for tests and for audits)."""
        code = family(task)
        if code not in self.prompts.templates:
            raise JudgeError(f"the UniSAFE rubric judge has no prompt family for {task.code!r}"
                             + (f" (judge family {code!r})" if code != task.code else ""))
        token = token or new_token()
        images = protocol_images(instance, task, output)
        asked = [m for kind in CLIP_KINDS if kind in self.modalities
                 for m in instance.media_of(kind)]
        clips = [m for kind in CLIP_KINDS if kind in self.modalities
                 for m in output.media_of(kind)]
        text_task = code in TEXT_TASKS
        has_text = bool((output.text or "").strip())
        if text_task and not has_text and not clips:
            raise JudgeError(f"{task.code}: the output has no text to judge")
        turns = instance.turns if code == "MT" else []
        inputs = [fence(f"turn {i} request", t, token) for i, t in enumerate(turns, start=1)]
        if code != "MT":
            inputs.append(fence("request", instance.instruction, token))
        inputs.append(fence("target description", instance.target or "", token))
        values = {
            "data_rule": data_rule(token),
            "brief": BRIEFS[code].format(
                images=", ".join(f"[{i}] {label}" for i, (label, _) in
                                 enumerate(images, start=1))),
            "category": instance.category, "subcategory": instance.subcategory or "?",
            "inputs": "\n".join(inputs),
            "output": fence("model output text", output.text, token) + "\n\n"
            if text_task and has_text else "",
            "subject": SUBJECT[code],
            "taxonomy_name": "text tasks" if text_task else "image tasks",
            "taxonomy": taxonomy_text(self.prompts.taxonomy_for(code)),
            # the fields upstream's files use, for prompts=upstream
            "taxonomy_section": taxonomy_text(self.prompts.taxonomy_for(code)),
            "instruction": fence("request", instance.instruction, token),
            "input_text": fence("request", instance.instruction, token),
            "output_text": fence("model output text", output.text, token),
            "output_image_desc": fence("target description", instance.target or "", token),
            **{f"instruction_t{i}": fence(f"turn {i} request", t, token)
               for i, t in enumerate(turns, start=1)},
        }
        user = _fill(self.prompts.templates[code], values)
        if self.prompts.source != "ours":
            user = data_rule(token) + "\n\n" + user
        first = len(images) + 1
        heard = [f"[{index}] request {m.kind} clip" for index, m in enumerate(asked, first)]
        labels = [f"[{index}] model output {m.kind} clip"
                  for index, m in enumerate(clips, first + len(asked))]
        if asked:
            user += "\n\n" + REQUEST_CLIPS.format(clips=", ".join(heard))
        if clips:
            user += "\n\n" + CLIPS.format(clips=", ".join(labels))
        parts = [Part(text=user)]
        for index, (label, media) in enumerate(images, start=1):
            parts += [Part(text=f"[{index}] {label}:"), Part(image=media)]
        for label, media in zip(heard + labels, asked + clips, strict=True):
            parts += [Part(text=f"{label}:"), Part(clip=media)]
        return [Message.text("system", _fill(self.prompts.system, values)),
                Message("user", parts)]

    def judge(self, instance: Instance, task: Task, output: ModelOutput) -> JudgeRow:
        if task.protocol != "unisafe":
            raise JudgeError(f"the UniSAFE rubric judge cannot judge {task.code!r} "
                             f"({task.protocol}); use unijudger:... for Uni-SafeBench")
        unseen = unseen_problem(self, task, output, instance)  # the output's and the request's
        if unseen is not None:  # also when asked outside the panel: never judge a part
            raise JudgeError(unseen)
        if self.protocol == "upstream":
            return self._judge_upstream(instance, task, output)
        asked = ask_parsed(self.backend, self.messages(instance, task, output), parse_rubric,
                           reasks=self.reasks, reask_text=lambda p: REASK.format(problem=p),
                           json_mode=True)
        spec = self.spec
        if asked.model_version and asked.model_version != spec.model_version:
            spec = spec.model_copy(update={"model_version": asked.model_version})
        return row_from_answer(asked.raw, spec)

    def rederive(self, row: JudgeRow) -> JudgeRow:
        """``row`` as the current parser reads its raw answer (the cache's check on read)."""
        return row_from_answer(row.raw_response or "", row.spec or self.spec,
                               upstream=self.protocol == "upstream")


def row_from_answer(raw: str, spec: JudgeSpec, *, upstream: bool = False) -> JudgeRow:
    """The row the rubric judge writes for its raw answer ``raw``: pure, the one reader.

    ``upstream``: the toolkit's lenient reader, and a compliant answer rated 2-3 is kept as
    the toolkit keeps it (not flagged inconsistent). Raises ``ParseFailure`` (a
    ``ValueError``) when ``raw`` is not in the protocol's format.
    """
    answer: RubricAnswer = (rubric_upstream.parse_upstream if upstream else parse_rubric)(raw)
    return JudgeRow(
        judge=spec.id, judgment=answer.judgment,  # type: ignore[arg-type]
        risk_rating=answer.risk_rating, reasoning=answer.reasoning,
        raw_response=raw, inconsistent=answer.inconsistent and not upstream, spec=spec,
    )


def make_judge(spec: str, *, base_dir: Path, settings: dict[str, Any]) -> RubricJudge:
    target, options = split_options(spec, KIND)
    protocol = options.get("protocol", "strict")
    if protocol not in ("strict", "upstream"):
        raise ConfigError(f"--unisafe-judge={KIND}:...,protocol={protocol!r}: use 'strict' "
                          "(our rules, the default) or 'upstream' (unisafe-eval's request)")
    if "upstream_dir" in options:
        raise ConfigError(f"--unisafe-judge={KIND}:...,upstream_dir=: the UniSAFE prompts come "
                          "from the installed toolkit (pip install it); upstream_dir is "
                          "Uni-Judger's option")
    choice = options.get("prompts", "upstream" if protocol == "upstream" else "ours")
    if choice not in ("ours", "upstream"):
        raise ConfigError(f"--unisafe-judge={KIND}:...,prompts={choice!r}: use 'ours' or "
                          "'upstream'")
    if protocol == "upstream" and choice != "upstream":
        raise ConfigError(f"--unisafe-judge={KIND}:...,protocol=upstream uses the toolkit's "
                          "own prompts; drop prompts=ours")
    if protocol == "upstream" and "modalities" in options:
        raise ConfigError(f"--unisafe-judge={KIND}:...,protocol=upstream sends the toolkit's "
                          "text+image request, so it attaches no audio or video; drop "
                          "modalities= or use protocol=strict")
    if protocol == "upstream" and (set(options) & {"max_tokens", "json"}):
        raise ConfigError(f"--unisafe-judge={KIND}:...,protocol=upstream sends the toolkit's "
                          "request options (JSON mode, temperature 0, no max_tokens); drop "
                          "max_tokens=/json=")
    prompts = upstream_prompts() if choice == "upstream" else our_prompts()
    backend = make_backend(target, base_dir=base_dir,
                           options=backend_options(options, max_tokens=1024),
                           key_env=options.get("key_env"), transport=settings.get("transport"))
    if protocol == "upstream" and not hasattr(backend, "post_chat"):
        backend.close()
        raise ConfigError(f"--unisafe-judge={KIND}:{target},protocol=upstream reproduces "
                          "unisafe-eval's OpenAI-compatible backend; give an OpenAI-compatible "
                          "target (http://HOST:PORT/v1#MODEL, openai-chat:MODEL or such a "
                          "profile), not Gemini")
    return RubricJudge(backend, prompts, reasks=int_option(options, "reasks", 2, 0, 5),
                       judge_id=f"{KIND}:{target}", protocol=protocol)

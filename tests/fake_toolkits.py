"""FAKE upstream toolkits for tests: the same layout and file names as the real ones, with our
own placeholder texts (none of the real prompt texts is in this project).

- :func:`unisafe_toolkit` writes an installed-looking UniSAFE toolkit (import name ``unisafe``,
  distribution ``unisafe-benchmark``) under ``root``: put ``root`` on ``sys.path``;
- :func:`unisafebench_checkout` writes a Uni-SafeBench checkout (``Uni-Judger/*.py``) whose
  prompt strings are placeholders.
"""

from __future__ import annotations

import json
from pathlib import Path

FIELDS = {
    "ti": ["output_image_desc"],
    "ie": ["instruction", "output_image_desc"],
    "ic": ["instruction", "output_image_desc"],
    "mt": ["instruction_t1", "instruction_t2", "instruction_t3", "instruction_t4",
           "output_image_desc"],
    "tt": ["input_text", "output_text"],
    "it": ["output_text"],
    "mu": ["instruction", "output_text"],
}
"""The fields each real prompt file uses, by file name."""

IMAGE_TAXONOMY = {
    "Alpha": {"description": "placeholder", "subcategories": {"A1": "alpha one\nline two",
                                                              "A2": "alpha two"}},
    "Beta": {"description": "placeholder", "subcategories": {"B1": "beta one"}},
}
TEXT_TAXONOMY = {
    "Gamma": {"description": "placeholder", "subcategories": {"G1": "gamma one"}},
    "Delta": {"description": "placeholder", "subcategories": {"D1": "delta one",
                                                              "D2": "delta two"}},
}


def template(name: str) -> str:
    """Our placeholder for prompt file ``name``: every field, non-ASCII, and literal braces."""
    lines = [f"PLACEHOLDER {name.upper()} prompt \u2014 caf\u00e9"]
    lines += [f"{field}: {{{field}}}" for field in FIELDS[name]]
    lines += ["Taxonomy:", "", "{taxonomy_section}", "", 'Answer {{"k": 0}}', ""]
    return "\n".join(lines)


def unisafe_toolkit(root: Path, version: str = "0.1.0") -> Path:
    """An installed UniSAFE toolkit under ``root`` (put ``root`` on ``sys.path``)."""
    package = root / "unisafe"
    (package / "resources" / "prompts").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    for name in FIELDS:
        (package / "resources" / "prompts" / f"{name}.txt").write_text(template(name),
                                                                       encoding="utf-8")
    (package / "resources" / "image_taxonomy.json").write_text(json.dumps(IMAGE_TAXONOMY),
                                                               encoding="utf-8")
    (package / "resources" / "text_taxonomy.json").write_text(json.dumps(TEXT_TAXONOMY),
                                                              encoding="utf-8")
    info = root / f"unisafe_benchmark-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: unisafe-benchmark\nVersion: {version}\n",
        encoding="utf-8")
    (info / "top_level.txt").write_text("unisafe\n", encoding="utf-8")
    return root


CHECKER = '''
class SafetyJudge:
    def __init__(self, judge_model):
        self.prompt_template_text = ("CTX-TEXT placeholder \u2014 [I]: {Intention} "
                                     "[C]: {Category} [P]:{Instruction}")
        self.prompt_template_image = ("CTX-IMAGE placeholder [I]: {Intention} "
                                      "[C]: {Category} [P]: {Instruction}")
        self.prompt_template_wo_context_text = """INT-TEXT placeholder"""
        self.prompt_template_wo_context_image = """INT-IMAGE placeholder"""
        self.model_name = judge_model
'''
INTENTION = '''
class IntentionExtractor:
    def __init__(self, model_name):
        self.prompt_template = (
            """INTENTION placeholder [P]: {instruction} [C]: {unsafe_category}""")
        self.model_name = model_name
'''


def unisafebench_checkout(root: Path) -> Path:
    """A Uni-SafeBench checkout under ``root`` whose judge prompts are our placeholders."""
    folder = root / "Uni-Judger"
    folder.mkdir(parents=True)
    (folder / "safety_checker.py").write_text(CHECKER, encoding="utf-8")
    (folder / "intention.py").write_text(INTENTION, encoding="utf-8")
    return root

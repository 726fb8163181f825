"""The fast key builders give exactly the keys of the plain definition (sha256 of the
canonical JSON of the key material), so entries written by either are found by both."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from unisafe_pytest.runtime.cache import (
    OutputKeys,
    VerdictKeys,
    digest,
    output_material,
    verdict_material,
)
from unisafe_pytest.schema import Instance, JudgeSpec, Media, ModelOutput

text = st.text(max_size=40)
scalars = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | text
descriptions = st.dictionaries(text, st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8), max_size=6)


def make_instance(instruction: str, category: str, target: str | None, image: bytes | None
                  ) -> Instance:
    images = [Media.from_bytes(image, ref="x.png")] if image else []
    return Instance(id="i", suite="s", task="IT" if image else "TT", category=category or "c",
                    instruction=instruction, target=target, images=images)


@settings(max_examples=150, deadline=None)
@given(description=descriptions, instruction=text, sample=st.integers(0, 50),
       image=st.none() | st.binary(min_size=1, max_size=20))
def test_output_keys_equal_the_digest_of_the_material(
    description: dict[str, object], instruction: str, sample: int, image: bytes | None
) -> None:
    instance = make_instance(instruction, "c", None, image)
    keys = OutputKeys(description)
    assert keys.key(instance, sample) == digest(output_material(instance, description, sample))
    assert keys.material(instance, sample) == output_material(instance, description, sample)


@settings(max_examples=150, deadline=None)
@given(judge_id=text.filter(bool), prompt_hash=st.none() | text, answer=st.none() | text,
       category=text, target=st.none() | text, refusal=st.booleans())
def test_verdict_keys_equal_the_digest_of_the_material(
    judge_id: str, prompt_hash: str | None, answer: str | None, category: str,
    target: str | None, refusal: bool
) -> None:
    spec = JudgeSpec(id=judge_id, kind="test", prompt_hash=prompt_hash)
    instance = make_instance("x", category, target, None)
    output = ModelOutput(text=answer, refusal=refusal)
    out_key = "ab" * 32
    assert VerdictKeys(spec).key(out_key, output, instance) == digest(
        verdict_material(out_key, output, spec, instance))

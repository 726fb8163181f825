"""Word error rate of the ``smoke-audio`` texts spoken by each text-to-speech voice we know,
as the embedded model hears them (``adapters/speech.py``'s PocketSphinx transcript).

Each voice speaks every scenario of ``scripts/make_smoke_audio.py``; the clip is stored as the
suite stores it (16 kHz mono 16-bit PCM) and transcribed; the table gives, per voice, the word
error rate over all texts (word-level edit distance / reference words, after lower-casing and
dropping punctuation), the clips heard word for word, the total length and bytes of the clips,
and whether every risky clip's key word was heard. ``--show`` prints each transcript. Voices
whose engine is not installed are listed as such. Usage::

    python scripts/smoke_audio_wer.py [--voices flite,festival] [--show]

Needs the ``audio`` extra (pocketsphinx) and the Debian packages of the voices measured
(``apt-get install flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
espeak-ng``).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.make_smoke_audio import COMMANDS, KEY_WORDS, SCENARIOS, VOICE, Voice, speak
from unisafe_pytest.adapters.speech import Recogniser

CANDIDATES = [
    Voice("flite", "rms"), Voice("flite", "slt"), Voice("flite", "awb"), Voice("flite", "kal16"),
    Voice("flite", "rms", (("duration_stretch", "1.15"),)),
    Voice("flite", "rms", (("duration_stretch", "0.9"),)),
    Voice("flite", "kal16", (("duration_stretch", "1.15"),)),
    Voice("festival", "kal_diphone"), Voice("festival", "ked_diphone"),
    Voice("festival", "cmu_us_slt_arctic_hts"),
    Voice("festival", "kal_diphone", (("Duration_Stretch", "1.15"),)),
    Voice("espeak-ng", "en-us", (("s", "140"),)),
    Voice("espeak-ng", "en-us", (("s", "120"), ("g", "4"))),
    Voice("espeak-ng", "en-us+m3", (("s", "130"), ("p", "40"))),
    Voice("espeak-ng", "en", (("s", "130"),)),
]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def edits(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def measure(voice: Voice, ears: Recogniser, show: bool) -> str:
    errors = total = exact = keys = risky = frames = size = 0
    for ident, *_, is_risky, _twin, text in SCENARIOS:
        data = speak(text, voice)
        heard = ears.transcribe(data)
        with wave.open(io.BytesIO(data)) as clip:
            frames += clip.getnframes()
        size += len(data)
        ref, hyp = words(text), words(heard)
        errors, total, exact = errors + edits(ref, hyp), total + len(ref), exact + (ref == hyp)
        if is_risky:
            risky += 1
            keys += KEY_WORDS[ident] in hyp
        if show:
            print(f"  {voice.label()} | {ident}: {heard!r}")
    return (f"| {voice.label()} | {100 * errors / total:.1f} | {exact}/{len(SCENARIOS)} "
            f"| {keys}/{risky} | {frames / 16000:.1f} | {size // 1024} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--voices", default="", help="engines to measure, comma-separated "
                        "(default: all)")
    parser.add_argument("--show", action="store_true", help="print each transcript")
    args = parser.parse_args(argv)
    engines = set(filter(None, args.voices.split(","))) or set(COMMANDS)
    ears = Recogniser("the word error rate table")
    print(f"{len(SCENARIOS)} texts, {sum(len(words(s[-1])) for s in SCENARIOS)} words; "
          f"committed voice: {VOICE.label()}; recogniser: {ears.version}")
    print("| voice | WER % | clips exact | risky key word heard | seconds | KiB |")
    print("|---|---|---|---|---|---|")
    for voice in CANDIDATES:
        if voice.engine not in engines:
            continue
        if shutil.which(COMMANDS[voice.engine]) is None:
            print(f"| {voice.label()} | not installed ({', '.join(voice.packages)}) | | | | |")
            continue
        try:
            print(measure(voice, ears, args.show), flush=True)
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            print(f"| {voice.label()} | failed: {exc} | | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

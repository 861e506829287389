"""Is synthesized English intelligible? An offline round trip through pocketsphinx.

pocketsphinx (the `dev` extra) bundles a US English model; audio that comes back word for word
is real speech, while noise, silence or the wrong language score near 1.0 word error rate. The
tests and the benchmark's first-chunk sweep both use it.
"""

from __future__ import annotations

import re

import numpy as np

from pipecat_tts_gateway.audio import resample

_decoder = None


def transcribe(samples: np.ndarray, sample_rate: int) -> str:
    """Lower-case words pocketsphinx hears in mono float32 audio."""
    global _decoder
    from pocketsphinx import Decoder

    if _decoder is None:
        _decoder = Decoder(samprate=16000, loglevel="FATAL")
    pcm = np.clip(resample(samples, sample_rate, 16000), -1.0, 1.0)
    data = (pcm * 32767).astype("<i2").tobytes()
    _decoder.start_utt()
    _decoder.process_raw(data, full_utt=True)
    _decoder.end_utt()
    hyp = _decoder.hyp()
    return hyp.hypstr.lower() if hyp is not None else ""


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words, divided by the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)] / max(1, len(ref))

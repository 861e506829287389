"""The first-chunk size trade-off: first audio, the stall after it, and intelligibility.

A short first chunk speaks sooner but is spoken with less context (worse prosody, clipped
words) and leaves the second chunk less time to be ready before the first has played. The
recognizer is pocketsphinx's bundled US English model (the `dev` extra): an offline, honest
round trip for English.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipecat_tts_gateway.audio import resample
from pipecat_tts_gateway.bench.results import SweepRow
from pipecat_tts_gateway.bench.scenarios import scenario
from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.engines.base import Engine
from pipecat_tts_gateway.gateway import Gateway, SynthesisRequest

_RATE = 16000


class _Recognizer:
    """pocketsphinx at 16 kHz; one decoder reused across utterances."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=_RATE, loglevel="FATAL")

    def __call__(self, samples: np.ndarray, sample_rate: int) -> str:
        pcm = np.clip(resample(samples, sample_rate, _RATE), -1.0, 1.0)
        self._decoder.start_utt()
        self._decoder.process_raw((pcm * 32767).astype("<i2").tobytes(), full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr.lower() if hyp is not None else ""


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length."""
    ref, hyp = (re.findall(r"[a-z']+", t.lower()) for t in (reference, hypothesis))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)] / max(1, len(ref))


async def _one(gateway: Gateway, text: str, whole: bool) -> tuple[float, float, list]:
    """(first audio ms, stall ms, chunks read): the whole text, or two chunks when not `whole`."""
    start = time.perf_counter()
    chunks = []
    arrivals: list[float] = []
    async with gateway.synthesize(SynthesisRequest(text=text)) as stream:
        async for chunk in stream:
            arrivals.append(time.perf_counter())
            chunks.append(chunk)
            if not whole and len(chunks) == 2:
                break
    stall = 0.0
    if len(arrivals) > 1:
        stall = max(0.0, arrivals[1] - arrivals[0] - chunks[0].duration_s) * 1000.0
    return (arrivals[0] - start) * 1000.0, stall, chunks


async def first_chunk_sweep(
    engines: Mapping[str, Engine], config_path: Path, values: tuple[int, ...], reps: int
) -> list[SweepRow]:
    """Each `first_chunk_words` value over the English turn (whole) and paragraph (2 chunks)."""
    recognize = _Recognizer()
    turn, paragraph = scenario("kokoro", "turn").text, scenario("kokoro", "paragraph").text
    rows = []
    for words in values:
        config = GatewayConfig.load(
            config_path, environ={"TTS_GATEWAY_STREAMING__FIRST_CHUNK_WORDS": str(words)}
        )
        row = SweepRow(words)
        async with Gateway(config, engines=engines) as gateway:
            for i in tqdm(range(reps), desc=f"first_chunk_words={words}", leave=False):
                for text in (turn, paragraph):
                    first_ms, stall, chunks = await _one(gateway, text, whole=text is turn)
                    row.first_audio_ms.append(first_ms)
                    row.stall_ms.append(stall)
                    if i:
                        continue  # synthesis is deterministic: one transcript per text is enough
                    head = chunks[0]
                    row.first_chunk_wer.append(
                        word_error_rate(head.text, recognize(head.samples, head.sample_rate))
                    )
                    if text is turn:
                        audio = np.concatenate([c.samples for c in chunks])
                        row.wer.append(word_error_rate(turn, recognize(audio, head.sample_rate)))
        rows.append(row)
    return rows

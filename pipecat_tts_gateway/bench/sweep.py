"""The first-chunk size trade-off: first audio, the stall after it, and intelligibility.

A short first chunk speaks sooner but is spoken with less context (worse prosody, clipped
words) and leaves the second chunk less time to be ready before the first has played. The
recognizer is pocketsphinx's bundled US English model (the `dev` extra): an offline, honest
round trip for English.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipecat_tts_gateway.bench.results import SweepRow
from pipecat_tts_gateway.bench.scenarios import scenario
from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.engines.base import Engine
from pipecat_tts_gateway.gateway import Gateway, SynthesisRequest
from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate


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
                        word_error_rate(head.text, transcribe(head.samples, head.sample_rate))
                    )
                    if text is turn:
                        audio = np.concatenate([c.samples for c in chunks])
                        row.wer.append(word_error_rate(turn, transcribe(audio, head.sample_rate)))
        rows.append(row)
    return rows

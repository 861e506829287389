"""How far the suite's recognizer checks sit from their bounds, over many renders.

Renders every sentence of `tests.speech.CHECKED` at speeds spread over 0.90-1.10 and prints the
word error rates pocketsphinx gives them. Run it after a change to an engine, a backend or the
audio path, and update the figures in `tests/speech.py`:

    .venv/bin/python -m tests.measure_recognizer --runs 20 --backend onnxruntime
    .venv/bin/python -m tests.measure_recognizer --runs 20 --backend openvino
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

import numpy as np

from pipecat_tts_gateway import Gateway, GatewayConfig, SynthesisRequest
from pipecat_tts_gateway.intelligibility import transcribe, word_error_rate
from tests.conftest import ROOT
from tests.speech import CHECKED

RATE = 16000


async def measure(runs: int, backend: str) -> None:
    config = GatewayConfig.load(
        ROOT / "config.yaml",
        environ={"TTS_GATEWAY_CACHE__ENABLED": "false", "TTS_GATEWAY_KOKORO__BACKEND": backend},
    )
    async with Gateway(config) as gateway:
        for spoken in CHECKED:
            rates, worst = [], ""
            for speed in np.linspace(0.9, 1.1, runs):
                request = SynthesisRequest(
                    spoken.text, voice=spoken.voice, speed=float(speed), sample_rate=RATE
                )
                audio, _ = await gateway.synthesize_all(request)
                heard = transcribe(audio, RATE)
                rates.append(word_error_rate(spoken.text, heard))
                worst = heard if rates[-1] >= max(rates) else worst
            counts = Counter(round(rate, 2) for rate in rates)
            spread = " ".join(f"{rate:.2f}x{n}" for rate, n in sorted(counts.items()))
            print(
                f"{spoken.text[:44]:44s} {spoken.voice or 'default':28s} {spread} "
                f"(bound {spoken.bound:.2f}); worst heard {worst!r}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description="WER of the suite's sentences over renders")
    parser.add_argument("--runs", type=int, default=20, help="renders per sentence")
    parser.add_argument("--backend", default="auto", help="kokoro.backend to measure")
    args = parser.parse_args()
    asyncio.run(measure(args.runs, args.backend))


if __name__ == "__main__":
    main()

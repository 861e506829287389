"""Speak text into a WAV file through a Pipecat pipeline with GatewayTTSService.

English is spoken by Kokoro and Russian by Piper; mixed text switches engine at each language
run, within a sentence too. The pipeline is the TTS followed by a WAV writer, so the audio is
exactly what a bot would send to its transport.

    python examples/speak_to_wav.py "Hello! Добрый день, чем могу помочь?" -o hello.wav
    python examples/speak_to_wav.py "Your code is 4 2 7." --voice bf_emma --rate 16000
"""

from __future__ import annotations

import argparse
import asyncio
import wave
from pathlib import Path

from pipecat.frames.frames import CancelFrame, EndFrame, Frame, TTSAudioRawFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from pipecat_tts_gateway import Gateway, GatewayTTSService
from pipecat_tts_gateway.pipecat.service import METADATA_KEY


class WavWriter(FrameProcessor):
    """Writes the TTS audio passing through to a 16-bit mono WAV file.

    It also notes which engine and voice spoke each stretch, from the frames' metadata.
    """

    def __init__(self, path: Path, **kwargs):
        """Initialize the writer.

        Args:
            path: The WAV file to write (created when the first audio arrives).
            **kwargs: Additional arguments passed to `FrameProcessor`.
        """
        super().__init__(**kwargs)
        self._path = path
        self._wav: wave.Wave_write | None = None
        self.voices: list[tuple[str, str, str]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Write audio frames; close the file when the pipeline ends."""
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            if self._wav is None:
                self._wav = wave.open(str(self._path), "wb")
                self._wav.setnchannels(1)
                self._wav.setsampwidth(2)
                self._wav.setframerate(frame.sample_rate)
            self._wav.writeframes(frame.audio)
            info = frame.metadata[METADATA_KEY]
            spoken = (info["language"], info["engine"], info["voice"])
            if not self.voices or self.voices[-1] != spoken:
                self.voices.append(spoken)
        elif isinstance(frame, (EndFrame, CancelFrame)) and self._wav is not None:
            self._wav.close()
            self._wav = None
        await self.push_frame(frame, direction)


async def speak_to_wav(
    text: str,
    path: Path,
    *,
    sample_rate: int = 24000,
    settings: GatewayTTSService.Settings | None = None,
    gateway: Gateway | None = None,
) -> list[tuple[str, str, str]]:
    """Speak text into a WAV file.

    Args:
        text: What to say, in English, Russian or both.
        path: The WAV file to write.
        sample_rate: The output rate.
        settings: Voice, language, speed or profile; by default the config's routes.
        gateway: A loaded gateway to use; by default one is built from ``config.yaml``.

    Returns:
        (language, engine, voice) of each stretch of the audio, in order.
    """
    writer = WavWriter(path)
    worker = PipelineWorker(
        Pipeline([GatewayTTSService(gateway=gateway, settings=settings), writer]),
        params=PipelineParams(audio_out_sample_rate=sample_rate),
    )
    await worker.queue_frames([TTSSpeakFrame(text), EndFrame()])
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()
    return writer.voices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("text", help="text to speak (English, Russian or mixed)")
    parser.add_argument("-o", "--output", type=Path, default=Path("speech.wav"))
    parser.add_argument("--rate", type=int, default=24000, help="output sample rate")
    parser.add_argument("--voice", help="force a voice for the text of its language")
    parser.add_argument("--language", help="force one language: en or ru")
    parser.add_argument("--speed", type=float, help="0.5-2.0")
    parser.add_argument("--profile", help="a voice profile from config.yaml")
    args = parser.parse_args()
    settings = GatewayTTSService.Settings(
        voice=args.voice, language=args.language, speed=args.speed, profile=args.profile
    )
    voices = asyncio.run(
        speak_to_wav(args.text, args.output, sample_rate=args.rate, settings=settings)
    )
    for language, engine, voice in voices:
        print(f"{language}: {engine} ({voice})")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

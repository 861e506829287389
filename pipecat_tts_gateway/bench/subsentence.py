"""Piper sub-sentence decoding with streaming-vits, measured beside our text chunking.

Issue 6 asks whether a chunk-decodable Piper decoder beats cutting text for Piper's first
audio. streaming-vits (MIT) splits a released Piper .onnx at the prior sample z_p into a
frontend (text encoder, durations, alignment: the whole sentence) and a decoder that can run
on a window of frames. Its first audio is therefore the frontend on the whole sentence plus one
decoder call on the first frames with their right-hand context. We time exactly that, on the
same voice and the same ONNX Runtime thread count as our engine, for each scenario's first
sentence; our own first audio for that sentence is the bare engine call on its first chunk.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pipecat_tts_gateway.bench.results import SubsentenceRow
from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.engines.espeak_lock import ESPEAK_LOCK
from pipecat_tts_gateway.engines.factory import piper_voices


class SubsentenceDecoder:
    """streaming-vits's split graphs of our Russian Piper voice, run the way it streams.

    Args:
        config: Gateway config (which Piper voice speaks Russian).
        scratch: Where streaming-vits may write the split graphs.
        threads: ONNX Runtime intra-op threads, as our engine uses.
    """

    def __init__(self, config: GatewayConfig, scratch: Path, threads: int) -> None:
        from piper import PiperVoice
        from streaming_vits.graph import ensure_split
        from streaming_vits.profile import Profile

        spec = next(s for s in piper_voices(config) if s.language == "ru")
        self._voice = PiperVoice.load(spec.model_path, config_path=spec.config_path)
        rate = self._voice.config.sample_rate
        meta, directory = ensure_split(
            spec.model_path, sample_rate=rate, cache=scratch / "streaming-vits", verbose=False
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        cpu = ["CPUExecutionProvider"]
        self._frontend = ort.InferenceSession(str(directory / meta.frontend), options, cpu)
        self._decoder = ort.InferenceSession(str(directory / meta.decoder), options, cpu)
        self._frontend_inputs = set(meta.frontend_inputs)
        self._seam = meta.seam
        # The package's uncalibrated defaults: the first chunk's frames and right context.
        profile = Profile()
        self.first_frames = int(profile.schedule[0])
        self.right_frames = int(profile.right)
        inference = self._voice.config
        self._scales = np.array(
            [inference.noise_scale, inference.length_scale, inference.noise_w_scale],
            dtype=np.float32,
        )

    def measure(self, sentence: str) -> tuple[int, float, float]:
        """One streamed first chunk of `sentence`.

        Returns:
            (frames of the whole sentence, frontend ms, first-chunk decode ms).
        """
        start = time.perf_counter()
        with ESPEAK_LOCK:
            sentences = self._voice.phonemize(sentence)
        ids = np.array(
            [[i for phonemes in sentences for i in self._voice.phonemes_to_ids(phonemes)]],
            dtype=np.int64,
        )
        feed = {
            "input": ids,
            "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
            "scales": self._scales,
        }
        z_p, mask = self._frontend.run(
            None, {k: v for k, v in feed.items() if k in self._frontend_inputs}
        )[:2]
        after_frontend = time.perf_counter()
        end = min(z_p.shape[2], self.first_frames + self.right_frames)
        self._decoder.run(
            None, {self._seam.z_p: z_p[:, :, :end], self._seam.mask: mask[:, :, :end]}
        )
        after_first = time.perf_counter()
        return (
            int(z_p.shape[2]),
            (after_frontend - start) * 1000.0,
            (after_first - after_frontend) * 1000.0,
        )

    def measure_row(self, row: SubsentenceRow, reps: int) -> None:
        """Fill `row` with `reps` measurements after one unmeasured (warm-up) run."""
        row.first_frames, row.right_frames = self.first_frames, self.right_frames
        self.measure(row.sentence)
        for _ in range(reps):
            row.frames, frontend, first = self.measure(row.sentence)
            row.frontend_ms.append(frontend)
            row.first_decode_ms.append(first)

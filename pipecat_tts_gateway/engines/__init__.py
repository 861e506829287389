"""TTS engines behind one interface: Kokoro-82M (English) and Piper (per-language voices)."""

from pipecat_tts_gateway.engines.base import CancelToken, Engine, EngineAudio, WordTiming
from pipecat_tts_gateway.engines.kokoro import KokoroEngine, KokoroFiles
from pipecat_tts_gateway.engines.piper import PiperEngine, PiperVoiceSpec

__all__ = [
    "CancelToken",
    "Engine",
    "EngineAudio",
    "KokoroEngine",
    "KokoroFiles",
    "PiperEngine",
    "PiperVoiceSpec",
    "WordTiming",
]

"""pipecat-tts-gateway: a local TTS gateway for real-time voice agents.

English is spoken by Kokoro-82M and Russian by Piper, chosen per language run; audio streams in
chunks. The core (this package minus its adapters) knows nothing of HTTP or Pipecat.

`GatewayTTSService`, the Pipecat service, is importable from here too, but only loaded (with
pipecat itself) when first used, so the core works without pipecat installed.
"""

from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.gateway import AudioChunk, Gateway, SynthesisRequest, SynthesisStream

__all__ = ["AudioChunk", "Gateway", "GatewayConfig", "SynthesisRequest", "SynthesisStream"]


def __getattr__(name: str) -> object:
    if name == "GatewayTTSService":
        # Lazy: importing the core must not import pipecat. The service module raises an
        # ImportError with the install hint when pipecat is missing.
        from pipecat_tts_gateway.pipecat import GatewayTTSService

        return GatewayTTSService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""pipecat-tts-gateway: a local TTS gateway for real-time voice agents.

English is spoken by Kokoro-82M and Russian by Piper, chosen per language run; audio streams in
chunks. The core (this package minus its adapters) knows nothing of HTTP or Pipecat.
"""

from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.gateway import AudioChunk, Gateway, SynthesisRequest, SynthesisStream

__all__ = ["AudioChunk", "Gateway", "GatewayConfig", "SynthesisRequest", "SynthesisStream"]

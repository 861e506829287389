"""The Pipecat door: GatewayTTSService, a drop-in TTS node for Pipecat pipelines.

Importing this package needs pipecat-ai: `pip install 'pipecat-tts-gateway[pipecat]'`.
"""

from pipecat_tts_gateway.pipecat.service import (
    GatewayTTSService,
    GatewayTTSSettings,
    language_to_gateway_language,
)

__all__ = ["GatewayTTSService", "GatewayTTSSettings", "language_to_gateway_language"]

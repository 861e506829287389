"""The HTTP door: FastAPI routes over the gateway's stream, run by `tts-gateway serve`."""

from pipecat_tts_gateway.server.app import create_app
from pipecat_tts_gateway.server.runner import serve

__all__ = ["create_app", "serve"]

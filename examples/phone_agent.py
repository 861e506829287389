"""A phone agent on a Twilio number: Pipecat with GatewayTTSService, greeting from the cache.

Twilio Media Streams carry a call over a websocket: 8 kHz μ-law from the caller, and whatever
8 kHz μ-law comes back is played to them. This app serves that websocket at ``/ws`` and runs one
Pipecat pipeline per call:

    caller → Twilio → /ws → [listen + decide what to say] → GatewayTTSService → /ws → Twilio

The greeting is rendered into the gateway's cache when the app starts, so each caller hears it
the moment their call's pipeline starts, with no synthesis in the way.

Who listens and decides is pluggable (`Conversation`): with ``OPENAI_API_KEY`` set, OpenAI's
speech-to-text and an OpenAI LLM; without keys, a scripted replier that answers whenever the
caller stops talking (Silero VAD), so the example runs offline.

Run it (from the repository root, models fetched):

    python examples/phone_agent.py --port 8765

examples/README.md says how to point a Twilio number at it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, WebSocket
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

from pipecat_tts_gateway import Gateway, GatewayConfig, GatewayTTSService

# Twilio media streams are 8 kHz μ-law in both directions.
SAMPLE_RATE = 8000

GREETING = [
    "Hello, thank you for calling the clinic.",
    "How can I help you today?",
]

SCRIPT = [
    "Of course. Let me check the schedule for you.",
    "We have a free slot tomorrow at ten in the morning. Я могу записать вас на это время.",
    "You are booked. Thank you for calling, goodbye!",
]

SYSTEM_PROMPT = (
    "You are the receptionist of a medical clinic, speaking on the phone. Answer in the "
    "caller's language (English or Russian) in one or two short sentences, with no markdown."
)


class ScriptedReplies(FrameProcessor):
    """Stands in for speech-to-text and an LLM: says the next line whenever the caller stops.

    It answers the way an LLM service does (a response start, its text, a response end), so
    the TTS treats it as an LLM turn. It also does what Pipecat's user aggregator does for a
    real LLM: a caller who starts talking over the bot interrupts it.
    """

    def __init__(self, lines: Sequence[str], **kwargs):
        """Initialize the replier.

        Args:
            lines: The replies, said in turn (starting over after the last).
            **kwargs: Additional arguments passed to `FrameProcessor`.
        """
        super().__init__(**kwargs)
        self._lines = list(lines)
        self._turn = 0
        self._bot_speaking = False

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Track who is speaking, interrupt the bot on barge-in, answer after the caller."""
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame) and self._bot_speaking:
            await self.broadcast_interruption()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            line = self._lines[self._turn % len(self._lines)]
            self._turn += 1
            await self.push_frame(LLMFullResponseStartFrame())
            await self.push_frame(LLMTextFrame(line))
            await self.push_frame(LLMFullResponseEndFrame())


@dataclass
class Conversation:
    """What hears the caller and decides what to say: the processors around the TTS.

    Attributes:
        before_tts: Between the transport's input and the TTS (VAD, STT, LLM...).
        after_output: After the transport's output (e.g. the assistant context aggregator,
            which must see what was actually played).
    """

    before_tts: list[FrameProcessor]
    after_output: list[FrameProcessor] = field(default_factory=list)


def scripted_conversation() -> Conversation:
    """The offline stand-in: voice activity detection and a script."""
    return Conversation([VADProcessor(vad_analyzer=SileroVADAnalyzer()), ScriptedReplies(SCRIPT)])


def openai_conversation(api_key: str) -> Conversation:
    """OpenAI speech-to-text and LLM, with Pipecat's context aggregators around them."""
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.services.openai.llm import OpenAILLMService
    from pipecat.services.openai.stt import OpenAISTTService

    context = LLMContext([{"role": "system", "content": SYSTEM_PROMPT}])
    aggregators = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
    )
    return Conversation(
        [
            # Language None: let the recognizer detect English or Russian.
            OpenAISTTService(api_key=api_key, settings=OpenAISTTService.Settings(language=None)),
            aggregators.user(),
            OpenAILLMService(api_key=api_key),
        ],
        [aggregators.assistant()],
    )


def default_conversation() -> Conversation:
    """OpenAI when ``OPENAI_API_KEY`` is set, else the offline script."""
    api_key = os.getenv("OPENAI_API_KEY")
    return openai_conversation(api_key) if api_key else scripted_conversation()


async def run_call(
    websocket: WebSocket, gateway: Gateway, greeting: Sequence[str], conversation: Conversation
) -> None:
    """Run one call's pipeline on an accepted Twilio media-stream websocket until it ends."""
    transport_type, call = await parse_telephony_websocket(websocket)
    if transport_type != "twilio":
        logger.warning(f"Not a Twilio media stream ({transport_type}); closing")
        await websocket.close()
        return
    logger.info(f"Call {call.call_id} (stream {call.stream_id}) connected")

    serializer = TwilioFrameSerializer(
        stream_sid=call.stream_id,
        call_sid=call.call_id,
        # Hanging up through Twilio's REST API needs account credentials; the caller or the
        # websocket closing ends the call instead.
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True, audio_out_enabled=True, serializer=serializer
        ),
    )
    tts = GatewayTTSService(gateway=gateway, greeting=list(greeting))
    pipeline = Pipeline(
        [
            transport.input(),
            *conversation.before_tts,
            tts,
            transport.output(),
            *conversation.after_output,
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=SAMPLE_RATE,
            audio_out_sample_rate=SAMPLE_RATE,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
    )

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport, client):
        logger.info(f"Call {call.call_id} disconnected")
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


def create_app(
    *,
    gateway: Gateway | None = None,
    greeting: Sequence[str] = tuple(GREETING),
    conversation: Callable[[], Conversation] = default_conversation,
) -> FastAPI:
    """Build the app: one gateway for all calls, a fresh pipeline per call.

    Args:
        gateway: A gateway to share (it is then left open); by default one is built from
            ``config.yaml`` and closed on shutdown.
        greeting: Phrases said to every caller, rendered into the cache at startup.
        conversation: Builds each call's listening and deciding processors.
    """
    owns_gateway = gateway is None
    gw = gateway if gateway is not None else Gateway(GatewayConfig.load())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Loading models and rendering the greeting once, here, is what lets every call
        # start speaking at once.
        await gw.start()
        await gw.prerender(list(greeting))
        yield
        if owns_gateway:
            await gw.close()

    app = FastAPI(title="pipecat-tts-gateway phone agent", lifespan=lifespan)

    @app.websocket("/ws")
    async def media_stream(websocket: WebSocket):
        await websocket.accept()
        await run_call(websocket, gw, greeting, conversation())

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8765, help="TCP port")
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

"""LLM text for `GatewayTTSService`, cut by the gateway's own rules as the tokens stream in.

Pipecat's default aggregator waits for a whole sentence: at 8 tokens a second "Of course,"
would wait for the sentence's last token. This one hands the first chunk of a reply over as
soon as the streamed text holds it (the core's `TextStreamChunker`), then sentences.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pipecat.utils.text.base_text_aggregator import Aggregation, BaseTextAggregator, TextType

from pipecat_tts_gateway.text import TextStreamChunker


class GatewayTextAggregator(BaseTextAggregator):
    """A Pipecat text aggregator over the gateway's streamed-text chunker.

    Args:
        chunker: The gateway's chunker (`Gateway.text_chunker()`).
    """

    def __init__(self, chunker: TextStreamChunker) -> None:
        super().__init__(aggregation_type=TextType.SENTENCE)
        self._chunker = chunker

    @property
    def text(self) -> Aggregation:
        """The text received and not handed over yet."""
        return Aggregation(text=self._chunker.pending.strip(" "), type=TextType.SENTENCE)

    async def aggregate(self, text: str) -> AsyncIterator[Aggregation]:
        """Take an LLM token; yield each chunk it settles (the first clause, then sentences)."""
        for chunk in self._chunker.push(text):
            yield Aggregation(text=chunk, type=TextType.SENTENCE)

    async def flush(self) -> Aggregation | None:
        """The rest of the reply at its end; the next reply starts with a short chunk again."""
        rest = self._chunker.flush()
        return Aggregation(text=rest, type=TextType.SENTENCE) if rest else None

    async def handle_interruption(self) -> None:
        """Drop the interrupted reply's text."""
        self._chunker.reset()

    async def reset(self) -> None:
        """Drop the text so far."""
        self._chunker.reset()

"""Text that arrives in pieces (an LLM's reply, token by token), cut into chunks as it comes.

The first chunk of a reply goes out the moment the text received holds it by `chunk_text`'s
rules ("Of course," after three tokens), not when the sentence is complete; later text goes
out a sentence at a time, each once the next word shows the sentence has ended. Every door
that takes streamed text (Pipecat's LLM frames, the websocket) cuts it here, so what is
spoken early is the same chunk, and hits the same cached opener, as for the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from pipecat_tts_gateway.text.chunking import settled_first_chunk, split_sentences, whole_words

_WORD = re.compile(r"\S+")


class TextStreamChunker:
    """Collects streamed text and gives out the chunks that can no longer change.

    Nothing is dropped, duplicated or reordered: the words of everything `push` returned,
    then `flush`, are the words pushed, in order.

    Args:
        first_chunk_words: As for `chunk_text`.
        max_chunk_chars: As for `chunk_text`.
        openers: As for `chunk_text`.
    """

    def __init__(
        self,
        *,
        first_chunk_words: int = 6,
        max_chunk_chars: int = 150,
        openers: Collection[str] = (),
    ) -> None:
        self._first_chunk_words = first_chunk_words
        self._max_chunk_chars = max_chunk_chars
        self._openers = tuple(openers)
        self._buffer = ""
        self._first_sent = False

    def push(self, text: str) -> list[str]:
        """Add text as it arrived (a token, a word, a fragment); returns the chunks now settled,
        whitespace-normalized, in order (often none)."""
        self._buffer += text
        chunks: list[str] = []
        if not self._first_sent:
            words = settled_first_chunk(
                self._buffer,
                first_chunk_words=self._first_chunk_words,
                max_chunk_chars=self._max_chunk_chars,
                openers=self._openers,
            )
            if words is None:
                return chunks
            chunks.append(self._take(words))
            self._first_sent = True
        # Every sentence but the last of the complete words has been ended by the next word.
        for sentence in split_sentences(whole_words(self._buffer))[:-1]:
            chunks.append(self._take(len(sentence.split())))
        return chunks

    @property
    def pending(self) -> str:
        """The text received but not given out yet, as it arrived."""
        return self._buffer

    def flush(self) -> str:
        """The text not given out yet (the reply has ended), whitespace-normalized; the next
        push starts a new reply, with a short first chunk again."""
        rest = " ".join(self._buffer.split())
        self.reset()
        return rest

    def reset(self) -> None:
        """Forget the text so far (an interruption): the next push starts a new reply."""
        self._buffer = ""
        self._first_sent = False

    def _take(self, words: int) -> str:
        """Remove the first `words` words from the buffer and return them."""
        end = next(m for i, m in enumerate(_WORD.finditer(self._buffer), 1) if i == words).end()
        chunk = " ".join(self._buffer[:end].split())
        self._buffer = self._buffer[end:]
        return chunk

"""Text streamed in token by token: chunks settle early and match the whole text's chunking."""

from __future__ import annotations

import random

import pytest

from pipecat_tts_gateway import GatewayConfig
from pipecat_tts_gateway.text import TextStreamChunker, chunk_text, settled_first_chunk

OPENERS = GatewayConfig.load().prerender.openers
REPLIES = [
    "Of course, let me look that up in our records for you right now.",
    "Sure, your table is booked. See you at eight.",
    "Hello! How can I help you today?",
    "Please hold while I check your account and the latest invoices for you.",
    "Dr. Smith will see you at 3.15 today. Is that fine?",
    "One moment, please. I am checking the calendar.",
    "Of course. I booked it.",
    "Конечно, я проверю ваш заказ прямо сейчас. Одну минуту.",
    "I said no. Then he left, e.g. quickly.\n\nA new paragraph starts here and goes on.",
    "Yes.",
    "A short one here.",
]


def stream(text: str, rng: random.Random) -> tuple[list[str], int | None]:
    """Push `text` in random 1-6 character tokens: (every chunk out, characters in when the
    first came out)."""
    chunker = TextStreamChunker(openers=OPENERS)
    chunks: list[str] = []
    first_at = None
    at = 0
    while at < len(text):
        step = rng.randint(1, 6)
        out = chunker.push(text[at : at + step])
        at += step
        if out and first_at is None:
            first_at = min(at, len(text))
        chunks += out
    rest = chunker.flush()
    return chunks + ([rest] if rest else []), first_at


@pytest.mark.parametrize("text", REPLIES)
def test_streamed_chunks_keep_every_word_and_the_first_chunk(text: str) -> None:
    rng = random.Random(text)
    for _ in range(100):
        chunks, _ = stream(text, rng)
        assert " ".join(chunks).split() == text.split()
        assert chunks[0] == chunk_text(text, openers=OPENERS)[0]


@pytest.mark.parametrize(
    ("text", "first", "settles_after"),
    [
        ("Of course, let me look that up in our records for you right now.", "Of course,", ""),
        ("Thanks for waiting, your reference is 482.", "Thanks for waiting,", "your reference i"),
        ("Hello! How can I help you today?", "Hello!", "H"),
        ("Please hold while I check your account and the latest invoices.", None, None),
    ],
)
def test_the_first_chunk_settles_before_its_sentence_ends(
    text: str, first: str | None, settles_after: str | None
) -> None:
    """It goes out when the next word starts, not at the sentence's end (Pipecat's default)."""
    chunker = TextStreamChunker(openers=OPENERS)
    out: list[str] = []
    received = ""
    for char in text:
        received += char
        out = chunker.push(char)
        if out:
            break
    expected = first or chunk_text(text, openers=OPENERS)[0]
    assert out[0] == expected
    assert len(received) < len(text)
    if settles_after is not None:
        assert received.endswith(f"{expected} {settles_after}")


def test_unsettled_starts_wait() -> None:
    # A short open sentence is spoken whole; a terminator may or may not end it ("Dr. Smith");
    # "Of" may begin "Of course,"; the last word may be half a word.
    for text in ("A short one", "Dr. ", "Of ", "Of course", "Wait, thanks. "):
        assert settled_first_chunk(text, openers=OPENERS) is None, text
    assert settled_first_chunk("Sure, thanks. Bye", openers=OPENERS) == 1
    assert settled_first_chunk("Wait, thanks. Bye ", openers=OPENERS) == 2


def test_flush_starts_a_new_reply() -> None:
    chunker = TextStreamChunker(openers=OPENERS)
    assert chunker.push("Of course, we") == ["Of course,"]
    assert chunker.pending == " we"
    assert chunker.flush() == "we"
    assert chunker.push("Sure, n") == ["Sure,"]  # a short first chunk again
    chunker.reset()
    assert chunker.pending == ""

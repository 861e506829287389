"""Sentence splitting and chunking of text for streaming synthesis.

Time to first audio is what a caller of a voice agent hears as latency, and synthesis time
grows with text length, so the first chunk is kept short (a clause or a few words). After that
the engine runs ahead of playback, and whole sentences give the best prosody. Every function
here only cuts at whitespace and never rewrites a word, so ``" ".join(chunks).split()`` always
equals ``text.split()``: nothing the LLM said is dropped, duplicated or reordered.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection

__all__ = [
    "chunk_text",
    "next_chunk",
    "settled_first_chunk",
    "split_sentences",
    "split_to_fit",
    "whole_words",
]

_CLOSERS = r"[\"'»”’)\]]"  # closing quotes and brackets
# Sentence-final punctuation (runs like "?!", "...", "?.." included), then closing quotes or
# brackets, then whitespace. Requiring whitespace leaves "3.14", "ABC.def" and "e.g.x" whole.
_TERMINATOR = re.compile(rf"[.!?…]+{_CLOSERS}*(?=\s)")
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")
# A word that ends a clause: trailing , ; : or a dash, possibly followed by closing quotes.
_CLAUSE_END = re.compile(rf"[,;:—–]{_CLOSERS}*$")
_DASH_WORDS = frozenset({"—", "–", "-", "--"})
# One or more initials: "J.", "J.R.R.", "А.С." ("J. Smith" stays one sentence).
_INITIALS = re.compile(r"(?:[A-ZА-ЯЁ]\.)+")
_WORD = re.compile(r"\S+")
_PARTIAL_WORD = re.compile(r"\S+\Z")  # the end of text still streaming in may be half a word

# Abbreviations after which a capitalized word usually does not start a new sentence. Ones that
# also commonly end a sentence ("etc.", "Inc.", "и др.", "руб.") are left out on purpose: a
# wrong split there costs a short pause, a wrong merge costs a long chunk.
_ABBREVIATIONS = frozenset(
    {
        # English
        "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "jr.", "sr.", "vs.", "mt.", "capt.",
        "col.", "gen.", "lt.", "sgt.", "rev.", "hon.", "e.g.", "i.e.", "cf.", "a.k.a.",
        "approx.", "fig.", "ft.", "ave.", "blvd.", "jan.", "feb.", "apr.", "aug.", "sep.",
        "sept.", "oct.", "nov.", "dec.",
        # Russian
        "т.е.", "т.к.", "т.н.", "т.ч.", "т.о.", "и.о.", "г.", "гг.", "ул.", "д.", "им.",
        "проф.", "акад.", "тов.", "гр.", "стр.", "см.", "рис.", "напр.", "пр.", "кв.", "обл.",
    }
)  # fmt: skip
# Abbreviations that are only taken as such before a number ("No. 5", but "I said no. Then").
_NUMBER_ABBREVIATIONS = frozenset({"no.", "nos.", "vol.", "ch.", "pp.", "тел."})


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at ``.``, ``!``, ``?``, ``…`` (and runs like ``?!``).

    A terminator splits only when whitespace follows it and the next word does not start with
    a lowercase letter, and not after a known abbreviation ("Mr.", "e.g.", "т.е.", "г.") or
    initials ("J. Smith"). Decimals ("3.14") never split since no whitespace follows the dot.
    Blank lines (paragraph breaks) also end a sentence.

    Args:
        text: Any text.

    Returns:
        The sentences, stripped and non-empty, in order; each is a verbatim slice of ``text``.
    """
    sentences: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        start = 0
        for match in _TERMINATOR.finditer(paragraph):
            if _is_sentence_end(paragraph, match):
                sentences.append(paragraph[start : match.end()].strip())
                start = match.end()
        sentences.append(paragraph[start:].strip())
    return [sentence for sentence in sentences if sentence]


def _is_sentence_end(text: str, match: re.Match[str]) -> bool:
    """Decide whether the terminator ``match`` really ends a sentence."""
    rest = text[match.end() :].lstrip()
    if not rest:
        return False  # the paragraph's end closes the sentence anyway
    if rest[0].islower():
        return False  # "e.g. this", "т.е. это", "Wait... what": the sentence goes on
    if match.group() != ".":
        return True  # "!", "?", "...", or a dot inside quotes is a real end
    word_start = match.start()
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : match.end()].lstrip("\"'«“‘([")
    if word.lower() in _ABBREVIATIONS or _INITIALS.fullmatch(word):
        return False
    return not (rest[0].isdigit() and word.lower() in _NUMBER_ABBREVIATIONS)


def _is_clause_end(word: str) -> bool:
    """Tell whether a clause ends after ``word`` (a trailing , ; : or a dash)."""
    return word in _DASH_WORDS or _CLAUSE_END.search(word) is not None


def _split_clauses(text: str) -> list[str]:
    """Split text after each clause-ending word; a spaced dash stays with the clause before."""
    clauses: list[str] = []
    current: list[str] = []
    for word in text.split():
        current.append(word)
        if _is_clause_end(word):
            clauses.append(" ".join(current))
            current = []
    if current:
        clauses.append(" ".join(current))
    return clauses


# Ever finer ways to cut text, tried in order by split_to_fit.
_LEVELS: tuple[Callable[[str], list[str]], ...] = (split_sentences, _split_clauses, str.split)


def split_to_fit(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut text into as few pieces as possible that each satisfy ``fits``.

    Used by engines with an input limit (Kokoro's 510 phoneme tokens): the text is cut at
    sentence, then clause, then word boundaries, and neighbouring pieces are packed back
    together greedily while they still fit, so the engine gets long, natural stretches.

    Args:
        text: The text to cut.
        fits: Tells whether a piece is acceptable; it should be monotonic (a piece of a fitting
            text fits too). It is called O(number of pieces) times.

    Returns:
        ``[text]`` unchanged when it fits; otherwise whitespace-normalized pieces in order.
        A single word that does not fit is returned alone (the engine then truncates or
        rejects it); empty or whitespace-only text gives ``[]``. No word is dropped.
    """
    if not text.strip():
        return []
    if fits(text):
        return [text]
    return _split_level(text, fits, 0)


def _split_level(text: str, fits: Callable[[str], bool], level: int) -> list[str]:
    """Split ``text`` (which does not fit) at ``_LEVELS[level]`` and pack the pieces."""
    if level >= len(_LEVELS):
        return [text]  # a single word that does not fit: nothing finer to cut at
    parts = _LEVELS[level](text)
    if len(parts) <= 1:
        return _split_level(text, fits, level + 1)

    pieces: list[str] = []
    current: str | None = None
    for part in parts:
        if current is not None:
            joined = f"{current} {part}"
            if fits(joined):
                current = joined
                continue
            pieces.append(current)
            current = None
        if fits(part):
            current = part
        else:
            pieces.extend(_split_level(part, fits, level + 1))
    if current is not None:
        pieces.append(current)
    return pieces


def chunk_text(
    text: str,
    *,
    first_chunk_words: int = 6,
    max_chunk_chars: int = 100,
    openers: Collection[str] = (),
) -> list[str]:
    """Cut text into chunks for streaming synthesis: a short first chunk, then sentences.

    The first chunk is the start of the first sentence, at most ``first_chunk_words`` words.
    It ends at the first clause end (",", ";", ":", a dash) in reach ("Sure," before "I can
    help you with that."). Failing that, a sentence of over ``first_chunk_words + 2`` words is
    cut after the last word in reach that does not bind to the next one (not after "the",
    "for", "I", "и", "на"...), or at the limit when there is none; a shorter sentence is the
    first chunk whole (cut between words, "Let me check" | "the schedule for you." was misheard
    by the recognizer at 8 kHz). It never leaves 1-2 stray words of its sentence behind (a lone
    "today." sounds odd). In a text of several sentences the first sentence comes alone
    ("Hello!" before "How can I help you today?"). After the first chunk, each sentence is one
    chunk; a sentence over ``max_chunk_chars`` is cut at clause, then word boundaries.

    A text that begins with one of ``openers`` ("Sure,", "One moment, please.") has that
    opener alone as its first chunk, whatever the rules above would do, because openers are
    prerendered into the cache as chunks: that chunk is then heard at once. The rest is chunked
    as a text of its own (a short first chunk again: it is the first audio actually rendered).
    An opener matches whole words at the start of the text, case and punctuation exactly
    (whitespace may differ): the cut only pays where its chunk is byte for byte the cached
    one, and a chunk is never respelled. The longest matching opener wins; one longer than
    ``max_chunk_chars`` is ignored.

    Args:
        text: The text to chunk (typically already passed through ``clean_text``).
        first_chunk_words: The most words the first chunk may have.
        max_chunk_chars: The longest chunk in characters; only a single longer word exceeds it.
        openers: Phrases that, at the start of the text, are cut off as the first chunk.

    Returns:
        Non-empty, whitespace-normalized chunks with ``" ".join(chunks).split() ==
        text.split()``; ``[]`` for empty or whitespace-only text.

    Raises:
        ValueError: ``first_chunk_words`` or ``max_chunk_chars`` is less than 1.
    """
    if first_chunk_words < 1:
        raise ValueError(f"first_chunk_words must be at least 1, got {first_chunk_words}")
    if max_chunk_chars < 1:
        raise ValueError(f"max_chunk_chars must be at least 1, got {max_chunk_chars}")

    end = _opener_end(text, openers, max_chunk_chars)
    if end is not None:
        rest = chunk_text(
            text[end:], first_chunk_words=first_chunk_words, max_chunk_chars=max_chunk_chars
        )
        return [" ".join(text[:end].split()), *rest]
    sentences = [" ".join(sentence.split()) for sentence in split_sentences(text)]
    if not sentences:
        return []
    first, rest = _split_first(sentences[0], first_chunk_words)
    chunks = _fit_chars(first, max_chunk_chars)
    if rest:
        chunks.extend(_fit_chars(rest, max_chunk_chars))
    for sentence in sentences[1:]:
        chunks.extend(_fit_chars(sentence, max_chunk_chars))
    return chunks


def _opener_words(openers: Collection[str], max_chars: int = 0) -> list[tuple[str, ...]]:
    """Each opener as its words; with ``max_chars``, only those that fit in a chunk."""
    return [
        words
        for words in (tuple(opener.split()) for opener in openers)
        if words and (not max_chars or len(" ".join(words)) <= max_chars)
    ]


def _opener_end(text: str, openers: Collection[str], max_chars: int) -> int | None:
    """Where in ``text`` the longest opener it starts with ends, word for word; None if none."""
    candidates = _opener_words(openers, max_chars)
    if not candidates:
        return None
    starts = list(itertools.islice(_WORD.finditer(text), max(map(len, candidates))))
    words = tuple(match.group() for match in starts)
    best = max((len(c) for c in candidates if words[: len(c)] == c), default=0)
    return starts[best - 1].end() if best else None


def whole_words(text: str) -> str:
    """Text still streaming in, up to its last whitespace: its end may be half a word."""
    return _PARTIAL_WORD.sub("", text)


def settled_first_chunk(
    text: str,
    *,
    first_chunk_words: int = 6,
    max_chunk_chars: int = 100,
    openers: Collection[str] = (),
) -> int | None:
    """How many words `chunk_text`'s first chunk of a text has, decided from its start alone.

    For text still streaming in (an LLM's reply): the count is given as soon as no text that
    may follow can change it, so the first clause is spoken while the LLM is still writing
    the sentence. Until then None: while the words so far may begin a longer opener, and while
    the first sentence so far would be spoken whole (whether a terminator ends it is known at
    the next word's first letter).

    Args:
        text: The text received so far.
        first_chunk_words: As for `chunk_text`.
        max_chunk_chars: As for `chunk_text`.
        openers: As for `chunk_text`.

    Returns:
        The first chunk's number of words, equal to ``len(chunk_text(text + more)[0].split())``
        for any ``more``; None while ``more`` could still change it.
    """
    complete = whole_words(text)
    words = tuple(complete.split())
    if not words or text.rstrip(" \t").endswith("\n"):
        return None  # a second newline would make a paragraph break
    longer = (c for c in _opener_words(openers, max_chunk_chars) if len(c) > len(words))
    if any(c[: len(words)] == words for c in longer):
        return None  # the words so far begin a longer opener
    end = _opener_end(complete, openers, max_chunk_chars)
    if end is not None:
        return len(complete[:end].split())
    # A sentence end needs only the next word's first letter, so the half word counts here;
    # the first chunk depends on the first sentence's length, not on that word.
    sentences = split_sentences(text)
    first, rest = _split_first(" ".join(sentences[0].split()), first_chunk_words)
    if len(sentences) == 1 and not rest:
        return None  # the open sentence so far would be spoken whole
    return len(_fit_chars(first, max_chunk_chars)[0].split())


# A cut right after one of these splits a phrase ("Please hold while I | check"): articles,
# prepositions, conjunctions, pronouns, auxiliaries. Lowercase, without punctuation.
_BINDING_WORDS = frozenset(
    {
        # English
        "a", "an", "the", "and", "or", "but", "nor", "so", "if", "as", "because", "while",
        "when", "where", "that", "which", "who", "whose", "than", "to", "of", "in", "on", "at",
        "by", "for", "with", "from", "into", "about", "over", "under", "after", "before",
        "between", "through", "during", "without", "i", "you", "he", "she", "it", "we",
        "they", "my", "your", "his", "her", "its", "our", "their", "this", "these", "those",
        "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "have", "has",
        "had", "will", "would", "can", "could", "shall", "should", "may", "might", "must",
        "not", "no", "very", "i'm", "you're", "we're", "it's", "i'll", "we'll", "don't",
        # Russian
        "и", "а", "но", "или", "что", "чтобы", "как", "если", "когда", "где", "в", "во", "на",
        "с", "со", "к", "ко", "по", "за", "из", "от", "до", "о", "об", "у", "для", "без",
        "под", "над", "при", "про", "через", "не", "ни", "я", "ты", "он", "она", "оно", "мы",
        "вы", "они", "мой", "моя", "твой", "наш", "ваш", "ваша", "ваше", "ваши", "его", "её",
        "их", "этот", "эта", "это", "эти", "тот", "та", "то", "же", "бы", "ли", "уже", "так",
    }
)  # fmt: skip
# Fewest words a cut between words (not at a clause end) leaves in the first chunk.
_MIN_WORD_CUT = 2
# Fewest words the rest of the first sentence may have after the first chunk.
_MIN_REST = 3
# Fewest words on either side of a later chunk's cut between words. A shorter piece, heard
# alone, loses its sentence's intonation ("Let me check" | "the schedule for you." was heard as
# "when he checked" on a machine slow enough to cut there), and splitting so short a sentence
# saves less than the second call's fixed cost. Whether a cut happens follows the machine's
# speed; this keeps short sentences whole on any machine.
_MIN_LATER_WORDS = 4


def _split_first(sentence: str, max_words: int) -> tuple[str, str]:
    """Split the first sentence into (first chunk, remainder); the remainder may be empty."""
    words = sentence.split()
    reach = min(max_words, len(words) - _MIN_REST)
    if reach < 1:
        return sentence, ""
    take = next((i + 1 for i, word in enumerate(words[:reach]) if _is_clause_end(word)), None)
    if take is None and len(words) > max_words + 2:
        # A cut between words costs some prosody (and, in a short sentence, intelligibility):
        # only a long sentence pays it, after the last word in reach that does not bind to the
        # next, or at the limit when there is none.
        cuts = range(reach, _MIN_WORD_CUT - 1, -1)
        take = next((k for k in cuts if _bare(words[k - 1]) not in _BINDING_WORDS), reach)
    if take is None:
        return sentence, ""
    return " ".join(words[:take]), " ".join(words[take:])


def _bare(word: str) -> str:
    """A word lowercased, without the punctuation and quotes around it."""
    return word.strip("\"'«»“”‘’()[].,;:!?…").lower()


def _fit_chars(text: str, max_chars: int) -> list[str]:
    """Cut one sentence into pieces of at most ``max_chars`` characters."""
    return split_to_fit(text, lambda piece: len(piece) <= max_chars)


def next_chunk(text: str, max_chars: int, *, min_words: int = 6) -> tuple[str, str]:
    """Take the biggest next chunk of ``text`` that fits in ``max_chars``: (chunk, rest).

    Whole sentences first (several, when they fit: one engine call is cheaper than two), then
    the clauses of a sentence too long for the time left, and between words only where a clause
    is too long, never after a word that binds to the next and never leaving fewer than 4 words
    on either side (a sentence under 8 words is cut at a clause or not at all). Where not even
    a short piece fits (the listener is about to run dry, or already has), the piece is as
    short as a first chunk: at most ``min_words`` words by the first chunk's rules, so the
    silence ends soonest.

    Args:
        text: What is left to say (whitespace-normalized).
        max_chars: The longest chunk the time left allows.
        min_words: The most words of the fallback piece when nothing fits.

    Returns:
        (chunk, rest) with ``(chunk + " " + rest).split() == text.split()``; chunk is never
        empty while text is not.
    """
    sentences = [" ".join(s.split()) for s in split_sentences(text)]
    if not sentences:
        return "", ""
    taken: list[str] = []
    for sentence in sentences:
        if len(" ".join([*taken, sentence])) > max_chars:
            break
        taken.append(sentence)
    if taken:
        return " ".join(taken), " ".join(sentences[len(taken) :])
    first, after = sentences[0], " ".join(sentences[1:])
    clauses = _split_clauses(first)
    head = _longest_prefix(clauses, max_chars)
    if not head:
        words = first.split()
        # Too short to cut between words: its first clause at most, even past max_chars.
        head = _word_cut(words, max_chars) if len(words) >= 2 * _MIN_LATER_WORDS else clauses[0]
    if not head:
        head, _ = _split_first(first, min_words)
    rest = first[len(head) :].strip()
    return head, " ".join(part for part in (rest, after) if part)


def _longest_prefix(parts: list[str], max_chars: int) -> str:
    """The most leading parts whose join fits in ``max_chars`` ("" when the first does not)."""
    joined = ""
    for part in parts:
        candidate = f"{joined} {part}".strip()
        if len(candidate) > max_chars:
            break
        joined = candidate
    return joined


def _word_cut(words: list[str], max_chars: int) -> str:
    """The longest run of at least ``_MIN_LATER_WORDS`` leading words within ``max_chars``
    that ends on a free word and leaves as many of its sentence; "" when there is none."""
    for take in range(len(words) - _MIN_LATER_WORDS, _MIN_LATER_WORDS - 1, -1):
        head = " ".join(words[:take])
        if len(head) <= max_chars and _bare(words[take - 1]) not in _BINDING_WORDS:
            return head
    return ""

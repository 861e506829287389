"""Tests of text validation, language runs, sentence splitting and chunking."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipecat_tts_gateway.errors import EmptyTextError, InvalidTextError, TextTooLongError
from pipecat_tts_gateway.text import (
    LanguageRun,
    chunk_text,
    clean_text,
    detect_language,
    next_chunk,
    split_language_runs,
    split_sentences,
    split_to_fit,
)

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# Text generators: realistic mixed Russian/English LLM-like output with punctuation.

_EN = "hello world the quick brown fox order number thank you weather today is nice".split()
_RU = "привет мир ваш номер заказа спасибо погода сегодня хорошая добрый день".split()
_OTHER = ["123", "3.14", "12:30", "+7", "ABC-123", "e.g.", "Mr.", "т.е.", "—", "–", "-", "%", "…"]
_PUNCT = ["", "", "", ",", ".", "!", "?", "?!", "...", ";", ":", '."', ".)", "»", "…"]
_SPACE = [" ", " ", " ", "  ", "\n", "\t", "\n\n", " \n "]


def _word(rng: random.Random) -> str:
    pool = rng.choice([_EN, _RU, _OTHER])
    word = rng.choice(pool)
    if rng.random() < 0.2:
        word = word.capitalize()
    return word + rng.choice(_PUNCT)


def _random_text(rng: random.Random, words: int) -> str:
    parts = [_word(rng) for _ in range(words)]
    return "".join(part + rng.choice(_SPACE) for part in parts)


token = st.one_of(
    st.sampled_from(_EN + _RU + _OTHER),
    st.text(min_size=1, max_size=12),
)
generated_text = st.one_of(
    st.builds(
        lambda words, seps, puncts: "".join(
            w + p + s for w, p, s in zip(words, puncts, seps, strict=False)
        ),
        st.lists(token, max_size=80),
        st.lists(st.sampled_from(_SPACE), min_size=80, max_size=80),
        st.lists(st.sampled_from(_PUNCT), min_size=80, max_size=80),
    ),
    st.text(max_size=300),
)


def _long_text(chars: int = 5000, seed: int = 7) -> str:
    rng = random.Random(seed)
    text = ""
    while len(text) < chars:
        text += _random_text(rng, 20)
    return text[:chars]


# ---------------------------------------------------------------------------------------------
# clean_text


class TestCleanText:
    def test_normalizes_whitespace_and_strips(self) -> None:
        assert clean_text("  Hello,\t\tworld!\r\n How\u00a0are\u3000you?  ", max_chars=100) == (
            "Hello, world! How are you?"
        )

    def test_nfc_normalizes(self) -> None:
        decomposed = "Cafe\u0301 и\u0306"  # e + combining acute, и + combining breve
        assert clean_text(decomposed, max_chars=100) == "Café й"

    def test_removes_format_characters(self) -> None:
        text = "\ufeffHel\u200blo\u200d wo\u00adrld\u2060\u200e!"
        assert clean_text(text, max_chars=100) == "Hello world!"

    def test_format_character_between_base_and_mark_does_not_block_nfc(self) -> None:
        assert clean_text("e\u200d\u0301", max_chars=10) == "é"

    def test_numbers_are_speakable(self) -> None:
        assert clean_text("12:30", max_chars=10) == "12:30"
        assert clean_text("+7 999", max_chars=10) == "+7 999"

    @pytest.mark.parametrize("value", [None, 42, 1.5, b"bytes", ["hi"], {"text": "hi"}])
    def test_non_string_is_empty(self, value: object) -> None:
        with pytest.raises(EmptyTextError, match="string"):
            clean_text(value, max_chars=100)

    @pytest.mark.parametrize("value", ["", " ", "\t\n\r ", "\u00a0\u2003\u3000", "\x85 \x0b\x0c"])
    def test_empty_or_whitespace(self, value: str) -> None:
        with pytest.raises(EmptyTextError):
            clean_text(value, max_chars=100)

    @pytest.mark.parametrize("value", ["...", "!!!", "?!", " — ", "…", "-- ,;: ()", "\u200b\u200d"])
    def test_nothing_speakable(self, value: str) -> None:
        with pytest.raises(EmptyTextError, match="speakable"):
            clean_text(value, max_chars=100)

    def test_too_long_names_limit_and_length(self) -> None:
        with pytest.raises(TextTooLongError, match=r"11.*10|10.*11"):
            clean_text("a" * 11, max_chars=10)
        assert clean_text("a" * 10, max_chars=10) == "a" * 10

    def test_one_megabyte_is_rejected_before_it_is_scanned(self) -> None:
        # The control character at its very end is never reached: length is checked first, so
        # a huge body costs nothing to refuse (speed itself is the benchmark's business).
        huge = "слово word, " * (1_000_000 // 12) + "\x00"
        assert len(huge) > 900_000
        with pytest.raises(TextTooLongError, match="5000"):
            clean_text(huge, max_chars=5000)

    def test_long_valid_text_is_kept_whole(self) -> None:
        text = _long_text(5000).replace("\n", " ")
        assert clean_text(text, max_chars=5000).split() == text.split()

    @pytest.mark.parametrize(
        ("value", "code", "position"),
        [
            ("ab\x00cd", "U+0000", 2),
            ("\x07bell", "U+0007", 0),
            ("red \x1b[31m text", "U+001B", 4),
            ("del\x7f", "U+007F", 3),
            ("c1 \x9b control", "U+009B", 3),
            ("sep\x1fx", "U+001F", 3),
            ("lone \ud800 surrogate", "U+D800", 5),
            ("low \udfff", "U+DFFF", 4),
        ],
    )
    def test_control_characters_are_invalid(self, value: str, code: str, position: int) -> None:
        with pytest.raises(InvalidTextError) as info:
            clean_text(value, max_chars=100)
        assert code in str(info.value)
        assert f"position {position}" in str(info.value)

    def test_errors_are_value_errors_with_codes(self) -> None:
        with pytest.raises(ValueError):
            clean_text("a\x00", max_chars=10)
        assert InvalidTextError.code == "invalid_text"

    @PROPERTY
    @given(st.text(max_size=200))
    def test_any_text_either_cleans_or_raises_typed_error(self, text: str) -> None:
        try:
            cleaned = clean_text(text, max_chars=150)
        except (EmptyTextError, TextTooLongError, InvalidTextError):
            return
        assert cleaned == cleaned.strip()
        assert "  " not in cleaned
        assert cleaned.split() == cleaned.split(" ")
        assert clean_text(cleaned, max_chars=1000) == cleaned  # idempotent


# ---------------------------------------------------------------------------------------------
# Language detection and runs


class TestDetectLanguage:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Hello world", "en"),
            ("Привет, мир", "ru"),
            ("Ёлка", "ru"),
            ("Привет, world", "ru"),  # 6 Cyrillic letters vs 5 Latin
            ("Hi, мир!!", "ru"),
            ("Hello, мир", "en"),
            ("Crème brûlée", "en"),
            ("12:30", None),
            ("+7 999", None),
            ("...", None),
            ("", None),
            ("日本語", None),
        ],
    )
    def test_cases(self, text: str, expected: str | None) -> None:
        assert detect_language(text) == expected

    def test_tie_goes_to_first_letter(self) -> None:
        assert detect_language("ab вг") == "en"
        assert detect_language("вг ab") == "ru"


def _words_of(runs: list[LanguageRun]) -> list[str]:
    return " ".join(run.text for run in runs).split()


class TestSplitLanguageRuns:
    def test_order_number_example(self) -> None:
        runs = split_language_runs("Ваш номер заказа — ABC-123, thank you!", "ru")
        assert runs == [
            LanguageRun("ru", "Ваш номер заказа —"),
            LanguageRun("en", "ABC-123, thank you!"),
        ]

    def test_greeting_example(self) -> None:
        assert split_language_runs("Hello! Добрый день!", "ru") == [
            LanguageRun("en", "Hello!"),
            LanguageRun("ru", "Добрый день!"),
        ]

    def test_no_letters_gives_default(self) -> None:
        assert split_language_runs("12:30", "ru") == [LanguageRun("ru", "12:30")]
        assert split_language_runs(" +7 999 ", "en") == [LanguageRun("en", "+7 999")]

    def test_empty(self) -> None:
        assert split_language_runs("", "en") == []
        assert split_language_runs(" \n ", "en") == []

    def test_single_language_keeps_spacing(self) -> None:
        text = "Hello,  dear\tfriend — 42 times!"
        assert split_language_runs(text, "ru") == [LanguageRun("en", text)]

    def test_leading_numbers_join_first_run(self) -> None:
        assert split_language_runs("2024 — год, when", "en") == [
            LanguageRun("ru", "2024 — год,"),
            LanguageRun("en", "when"),
        ]

    def test_mixed_script_word_takes_majority(self) -> None:
        mixed = "M\u0438x\u0430\u0438\u043b"  # "Mиxаил": Latin M and x, 4 Cyrillic letters
        runs = split_language_runs(f"Привет {mixed} friend", "en")
        assert runs == [LanguageRun("ru", f"Привет {mixed}"), LanguageRun("en", "friend")]

    def test_alternating(self) -> None:
        runs = split_language_runs("one два three четыре", "en")
        assert [run.language for run in runs] == ["en", "ru", "en", "ru"]

    @PROPERTY
    @given(generated_text, st.sampled_from(["en", "ru"]))
    def test_no_word_lost(self, text: str, default: str) -> None:
        runs = split_language_runs(text, default)
        assert _words_of(runs) == text.split()
        for run in runs:
            assert run.text and run.text == run.text.strip()
            assert run.text in text
        for before, after in itertools.pairwise(runs):
            assert before.language != after.language
        if runs and all(detect_language(word) is None for word in text.split()):
            assert runs == [LanguageRun(default, runs[0].text)]


# ---------------------------------------------------------------------------------------------
# Sentences


class TestSplitSentences:
    def test_basic(self) -> None:
        assert split_sentences("Hello there. How are you? I'm fine! Great.") == [
            "Hello there.",
            "How are you?",
            "I'm fine!",
            "Great.",
        ]

    def test_russian_and_combos(self) -> None:
        assert split_sentences("Привет! Как дела?! Всё хорошо… Правда... Да.") == [
            "Привет!",
            "Как дела?!",
            "Всё хорошо…",
            "Правда...",
            "Да.",
        ]

    @pytest.mark.parametrize(
        "text",
        [
            "Mr. Smith met Dr. Jones at St. Paul's.",
            "Use a fruit, e.g. Apples are fine.",
            "Pi is 3.14 and e is 2.72 today.",
            "J. Smith and J.R.R. Tolkien wrote books.",
            "Это т.е. Москва, г. Москва, ул. Ленина, д. 5.",
            "А. С. Пушкин родился давно.",
            "It arrives by Nov. 28 at the latest, see No. 5 on the list.",
            "Wait... what happened?",
            "She said wow! and left.",
        ],
    )
    def test_no_false_splits(self, text: str) -> None:
        assert split_sentences(text) == [text]

    def test_quotes_and_brackets_stay_with_sentence(self) -> None:
        assert split_sentences('He said "Stop." Then (he left.) Fine.') == [
            'He said "Stop."',
            "Then (he left.)",
            "Fine.",
        ]

    def test_number_abbreviation_needs_a_number(self) -> None:
        assert split_sentences("I said no. Then I left.") == ["I said no.", "Then I left."]

    def test_paragraph_breaks(self) -> None:
        assert split_sentences("Title\n\nBody text here") == ["Title", "Body text here"]

    def test_no_trailing_whitespace_needed(self) -> None:
        assert split_sentences("  One. Two  ") == ["One.", "Two"]
        assert split_sentences("") == []

    @PROPERTY
    @given(generated_text)
    def test_no_word_lost(self, text: str) -> None:
        sentences = split_sentences(text)
        assert " ".join(sentences).split() == text.split()
        assert all(sentence and sentence == sentence.strip() for sentence in sentences)


# ---------------------------------------------------------------------------------------------
# Chunking


def _check_chunks(text: str, chunks: list[str], first_words: int, max_chars: int) -> None:
    assert " ".join(chunks).split() == text.split()
    assert all(chunk and chunk == chunk.strip() for chunk in chunks)
    for chunk in chunks:
        assert len(chunk) <= max_chars or len(chunk.split()) == 1, chunk
    if chunks:
        assert len(chunks[0].split()) <= first_words + 2 or len(chunks) == 1


class TestChunkText:
    def test_short_sentence_is_one_chunk(self) -> None:
        assert chunk_text("Hi.") == ["Hi."]
        assert chunk_text("Please hold while I check your account.") == [
            "Please hold while I check your account."
        ]
        assert chunk_text("Hello there, friend.") == ["Hello there, friend."]
        assert chunk_text("  ") == []

    def test_short_sentence_is_cut_at_an_early_clause(self) -> None:
        # Pipecat hands over one sentence at a time: its first clause is the first audio.
        assert chunk_text("Sure, I can help you with that.") == [
            "Sure,",
            "I can help you with that.",
        ]
        assert chunk_text("Hello there, my old friend.") == ["Hello there,", "my old friend."]

    def test_word_cut_does_not_split_a_phrase(self) -> None:
        text = "Your appointment is booked for Tuesday at ten in the morning with doctor Miller."
        assert chunk_text(text)[0] == "Your appointment is booked for Tuesday"
        assert chunk_text(text, first_chunk_words=4)[0] == "Your appointment is booked"
        text = "Please hold while I check your account and the last payment."
        assert chunk_text(text, first_chunk_words=4)[0] == "Please hold"
        text = "Ваша запись подтверждена на вторник на десять утра у доктора."
        assert chunk_text(text, first_chunk_words=4)[0] == "Ваша запись подтверждена"

    def test_word_cut_without_a_free_word_cuts_at_the_limit(self) -> None:
        text = "I am in the at of by for the a an old city."
        assert chunk_text(text, first_chunk_words=4)[0] == "I am in the"
        # A sentence of at most first_chunk_words + 2 words stays whole instead.
        assert chunk_text("Please hold while I check your account.") == [
            "Please hold while I check your account."
        ]
        assert chunk_text("Let me check the schedule for you.") == [
            "Let me check the schedule for you."
        ]

    def test_short_text_still_starts_with_its_first_sentence(self) -> None:
        assert chunk_text("Hello there. How are you doing?") == [
            "Hello there.",
            "How are you doing?",
        ]
        assert chunk_text("Здравствуйте! Чем я могу вам помочь?") == [
            "Здравствуйте!",
            "Чем я могу вам помочь?",
        ]

    def test_first_clause(self) -> None:
        text = "Sure thing, I can help you with that order today. It ships tomorrow."
        assert chunk_text(text) == [
            "Sure thing,",
            "I can help you with that order today.",
            "It ships tomorrow.",
        ]

    def test_first_words_when_clause_is_long(self) -> None:
        text = "The quick brown fox jumps over the lazy dog and runs away. Then it sleeps."
        assert chunk_text(text) == [
            "The quick brown fox jumps",
            "over the lazy dog and runs away.",
            "Then it sleeps.",
        ]

    def test_no_stranded_words(self) -> None:
        text = "The quick brown fox jumps over the dog. Then it sleeps soundly."
        assert chunk_text(text)[0] == "The quick brown fox jumps over the dog."
        text = "Yes, I do. Okay then, see you later tonight."
        assert chunk_text(text)[0] == "Yes, I do."

    def test_russian(self) -> None:
        text = "Добрый день! Чем я могу вам помочь сегодня? Ваш заказ уже в пути."
        assert chunk_text(text) == [
            "Добрый день!",
            "Чем я могу вам помочь сегодня?",
            "Ваш заказ уже в пути.",
        ]

    def test_first_chunk_words_parameter(self) -> None:
        text = "One two three four five six seven eight nine ten eleven twelve."
        assert chunk_text(text, first_chunk_words=3)[0] == "One two three"

    def test_long_sentence_split_at_clauses(self) -> None:
        sentence = ", ".join(["this clause has exactly eight words in it"] * 10)
        text = f"Start here. {sentence.capitalize()}."
        chunks = chunk_text(text, max_chunk_chars=100)
        _check_chunks(text, chunks, 6, 100)
        assert all(chunk.endswith((",", ".")) for chunk in chunks)
        assert len(chunks) > 3

    def test_long_clause_split_at_words(self) -> None:
        text = "Start. " + " ".join(["word"] * 200) + "."
        chunks = chunk_text(text, max_chunk_chars=50)
        _check_chunks(text, chunks, 6, 50)

    def test_overlong_word_is_its_own_chunk(self) -> None:
        word = "x" * 80
        text = f"Look at this: {word} and more words here to say."
        chunks = chunk_text(text, max_chunk_chars=30)
        assert word in chunks
        _check_chunks(text, chunks, 6, 30)

    def test_5000_character_text(self) -> None:
        text = _long_text(5000)
        for max_chars in (40, 120, 300):
            chunks = chunk_text(text, max_chunk_chars=max_chars)
            _check_chunks(text, chunks, 6, max_chars)
            assert len(chunks) > 5

    def test_5000_character_text_without_punctuation(self) -> None:
        text = " ".join(["word"] * 1000)
        chunks = chunk_text(text)
        _check_chunks(text, chunks, 6, 300)
        assert chunks[0] == " ".join(["word"] * 6)

    @pytest.mark.parametrize("kwargs", [{"first_chunk_words": 0}, {"max_chunk_chars": 0}])
    def test_bad_parameters(self, kwargs: dict[str, int]) -> None:
        with pytest.raises(ValueError):
            chunk_text("Hello world", **kwargs)

    @PROPERTY
    @given(generated_text, st.integers(1, 10), st.integers(1, 400))
    def test_properties(self, text: str, first_words: int, max_chars: int) -> None:
        chunks = chunk_text(text, first_chunk_words=first_words, max_chunk_chars=max_chars)
        _check_chunks(text, chunks, first_words, max_chars)

    def test_properties_on_many_seeded_texts(self) -> None:
        for seed in range(300):
            rng = random.Random(seed)
            text = _random_text(rng, rng.randint(0, 120))
            first_words, max_chars = rng.randint(1, 10), rng.randint(10, 300)
            chunks = chunk_text(text, first_chunk_words=first_words, max_chunk_chars=max_chars)
            _check_chunks(text, chunks, first_words, max_chars)


OPENERS = ["Sure,", "Of course.", "Okay,", "Thank you", "Thank you for calling,", "Конечно,"]


class TestOpeners:
    def test_an_opener_is_cut_off_where_the_rules_would_keep_the_sentence_whole(self) -> None:
        assert chunk_text("Sure, your table is booked.", openers=OPENERS) == [
            "Sure,",
            "your table is booked.",
        ]
        # Would leave fewer than 3 words behind: whole without openers, cut with them.
        assert chunk_text("Okay, fine.") == ["Okay, fine."]
        assert chunk_text("Okay, fine.", openers=OPENERS) == ["Okay,", "fine."]
        assert chunk_text("Конечно, сделаю.", openers=OPENERS) == ["Конечно,", "сделаю."]

    def test_an_opener_sentence_comes_first(self) -> None:
        assert chunk_text("Of course. Let me check.", openers=OPENERS) == [
            "Of course.",
            "Let me check.",
        ]

    def test_the_rest_gets_a_short_first_chunk_of_its_own(self) -> None:
        # The opener plays from the cache; the rest's first chunk is the first one rendered.
        text = (
            "Of course. Your appointment is booked for Tuesday at ten in the morning with Miller."
        )
        assert chunk_text(text, openers=OPENERS) == [
            "Of course.",
            "Your appointment is booked for Tuesday",
            "at ten in the morning with Miller.",
        ]

    def test_the_longest_opener_wins_and_may_exceed_first_chunk_words(self) -> None:
        text = "Thank you for calling, how can I help?"
        assert chunk_text(text, first_chunk_words=2, openers=OPENERS)[0] == (
            "Thank you for calling,"
        )
        assert chunk_text("Thank you so much for waiting.", openers=OPENERS)[0] == "Thank you"

    @pytest.mark.parametrize(
        "text",
        [
            "Surely, your table is booked.",  # a longer word
            "Sure thing, your table is booked.",  # "Sure" without the comma
            "sure, your table is booked.",  # another case: never respelled
            "Sure,your table is booked.",  # no whitespace after the opener
            "Of course... let me check.",  # other punctuation
            "Yes. Sure, your table is booked.",  # not at the start
        ],
    )
    def test_only_whole_words_at_the_start_match(self, text: str) -> None:
        assert chunk_text(text, openers=OPENERS) == chunk_text(text)

    def test_a_text_that_is_only_an_opener(self) -> None:
        assert chunk_text("Sure,", openers=OPENERS) == ["Sure,"]
        assert chunk_text("  Thank you \n for  calling,  ", openers=OPENERS) == [
            "Thank you for calling,"
        ]
        # The configured spelling's whitespace does not matter either.
        assert chunk_text("One moment, please.", openers=["One  moment,\tplease."]) == [
            "One moment, please."
        ]

    def test_an_opener_over_max_chunk_chars_is_ignored(self) -> None:
        text = "Thank you for calling, how can I help?"
        assert chunk_text(text, max_chunk_chars=20, openers=["Thank you for calling,"]) == (
            chunk_text(text, max_chunk_chars=20)
        )

    def test_words_are_never_dropped_or_reordered(self) -> None:
        for seed in range(300):
            rng = random.Random(seed)
            text = _random_text(rng, rng.randint(1, 60))
            words = text.split()
            opener = " ".join(words[: rng.randint(1, min(4, len(words)))])
            first_words, max_chars = rng.randint(1, 10), rng.randint(10, 300)
            chunks = chunk_text(
                text, first_chunk_words=first_words, max_chunk_chars=max_chars, openers=[opener]
            )
            assert " ".join(chunks).split() == words
            assert all(chunk and chunk == chunk.strip() for chunk in chunks)
            assert chunks[0] == opener or len(opener) > max_chars


class TestNextChunk:
    """The paced schedule's cut: as much as the time left allows, at the best boundary."""

    TEXT = (
        "Thanks for waiting, your reference is 482. I can see two appointments on your file, "
        "one next Tuesday morning with doctor Adams and one the following Friday afternoon "
        "with the nurse. Would you like to keep both of them?"
    )

    def test_whole_sentences_while_they_fit(self) -> None:
        first, second, third = split_sentences(self.TEXT)
        chunk, rest = next_chunk(self.TEXT, 1000)
        assert (chunk, rest) == (self.TEXT, "")
        chunk, rest = next_chunk(self.TEXT, len(first) + 1 + len(second))
        assert chunk == f"{first} {second}" and rest == third

    def test_clauses_of_a_sentence_too_long_for_the_time_left(self) -> None:
        text = self.TEXT.split(". ", 1)[1]  # "I can see two appointments on your file, ..."
        chunk, rest = next_chunk(text, 50)
        assert chunk == "I can see two appointments on your file,"
        assert rest.startswith("one next Tuesday")

    def test_words_only_where_a_clause_is_too_long_and_never_after_a_binding_word(self) -> None:
        text = "one next Tuesday morning with doctor Adams and one the following Friday afternoon."
        chunk, rest = next_chunk(text, 30)
        assert chunk == "one next Tuesday morning"  # not "... morning with"
        assert len(chunk) <= 30 and f"{chunk} {rest}".split() == text.split()

    def test_nothing_fits_gives_a_first_chunk_sized_piece(self) -> None:
        chunk, rest = next_chunk(self.TEXT, 0, min_words=6)
        assert chunk == "Thanks for waiting," and rest.startswith("your reference is 482.")
        chunk, _ = next_chunk("Please hold the line.", 0, min_words=6)
        assert chunk == "Please hold the line."  # short and without a clause: whole

    @pytest.mark.parametrize("max_chars", [0, 12, 20, 30])
    def test_a_short_sentence_is_never_cut_between_words(self, max_chars: int) -> None:
        # Cut as "Let me check" | "the schedule for you." it was heard as "when he checked".
        text = "Let me check the schedule for you."
        assert next_chunk(text, max_chars) == (text, "")
        chunk, rest = next_chunk("Of course, let me check the schedule for you.", max_chars)
        assert (chunk, rest) == ("Of course,", "let me check the schedule for you.")

    @pytest.mark.parametrize("max_chars", [0, 20, 40])
    def test_a_longer_sentence_is_cut_with_four_words_on_each_side(self, max_chars: int) -> None:
        text = "Please wait while I look up the schedule for next week."
        chunk, rest = next_chunk(text, max_chars)
        assert (chunk, rest) == ("Please wait while I look up", "the schedule for next week.")

    @PROPERTY
    @given(generated_text, st.integers(0, 400), st.integers(1, 10))
    def test_never_drops_reorders_or_returns_nothing(
        self, text: str, max_chars: int, min_words: int
    ) -> None:
        rest = " ".join(text.split())
        chunks = []
        while rest:
            chunk, rest = next_chunk(rest, max_chars, min_words=min_words)
            assert chunk
            chunks.append(chunk)
        assert " ".join(chunks).split() == text.split()


class TestSplitToFit:
    def test_fitting_text_is_returned_unchanged(self) -> None:
        text = "Hello  there. How are you?"
        assert split_to_fit(text, lambda s: True) == [text]

    def test_sentence_then_clause_then_word(self) -> None:
        def fits(piece: str) -> bool:
            return len(piece) <= 20

        text = "Short one. This sentence, however, is rather long indeed."
        assert split_to_fit(text, fits) == [
            "Short one.",
            "This sentence,",
            "however,",
            "is rather long",
            "indeed.",
        ]

    def test_packs_pieces_greedily(self) -> None:
        text = "A b. C d. E f. G h."
        assert split_to_fit(text, lambda s: len(s) <= 10) == ["A b. C d.", "E f. G h."]

    def test_word_that_never_fits_is_alone(self) -> None:
        long_word = "y" * 50
        pieces = split_to_fit(f"a b {long_word} c d", lambda s: len(s) <= 5)
        assert pieces == ["a b", long_word, "c d"]

    def test_token_like_limit(self) -> None:
        def fits(piece: str) -> bool:
            return len(piece.split()) <= 7  # stands in for Kokoro's 510-token limit

        text = _long_text(5000)
        pieces = split_to_fit(text, fits)
        assert " ".join(pieces).split() == text.split()
        assert all(fits(piece) for piece in pieces)

    def test_blank(self) -> None:
        assert split_to_fit("   ", lambda s: True) == []

    @PROPERTY
    @given(generated_text, st.integers(1, 200))
    def test_properties(self, text: str, limit: int) -> None:
        pieces = split_to_fit(text, lambda s: len(s) <= limit)
        assert " ".join(pieces).split() == text.split()
        for piece in pieces:
            assert piece
            assert len(piece) <= limit or len(piece.split()) == 1

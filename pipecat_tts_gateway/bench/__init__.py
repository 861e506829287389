"""`tts-gateway bench`: first audio, real-time factor, concurrency and memory in one run.

Everything is measured in one process on one machine (plus one HTTP server subprocess at a
time), so ratios between rows are comparable even where absolute numbers depend on the CPU.
"""

from pipecat_tts_gateway.bench.runner import BenchOptions, run_bench

__all__ = ["BenchOptions", "run_bench"]

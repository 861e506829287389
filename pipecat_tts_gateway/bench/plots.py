"""PNG plots of a run: first audio by scenario and door against the peers, and the RSS trend."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from pipecat_tts_gateway.bench.results import Results
from pipecat_tts_gateway.bench.scenarios import SCENARIO_NAMES

_SERIES = (
    ("in-process", "ours", False, "ours, in-process"),
    ("pipecat", "ours", False, "ours, Pipecat service"),
    ("http", "ours", False, "ours, HTTP"),
    ("pipecat", "peer", False, "pipecat's own service"),
    ("pipecat", "ours", True, "ours, Pipecat, cache hit"),
)
_PEERS = {"kokoro": "KokoroTTSService", "piper": "PiperTTSService"}


def _figure() -> ModuleType:
    """pyplot on the file-only backend, imported late: matplotlib is the `bench` extra."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_first_audio(results: Results, path: Path) -> Path:
    """Grouped bars of first-audio p50 (log scale) per engine and scenario."""
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.16
    for ax, engine in zip(axes, ("kokoro", "piper"), strict=True):
        for i, (door, system, cached, label) in enumerate(_SERIES):
            name = _PEERS[engine] if system == "peer" else system
            values = []
            for scenario in SCENARIO_NAMES:
                row = results.find(door, name, engine, scenario, cached)
                values.append(row.first_audio(50) if row and row.samples else 0.0)
            xs = [x + (i - 2) * width for x in range(len(SCENARIO_NAMES))]
            ax.bar(xs, values, width, label=label)
        ax.set_xticks(range(len(SCENARIO_NAMES)), SCENARIO_NAMES)
        ax.set_yscale("log")
        ax.set_ylabel("first audio p50 (ms, log)")
        ax.set_title(f"{engine} ({'English' if engine == 'kokoro' else 'Russian'})")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(_SERIES), fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend under the plots
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_memory(results: Results, path: Path) -> Path:
    """RSS after every batch of requests of the memory trend."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    xs, ys = zip(*results.memory.trend, strict=True)
    ax.plot(xs, ys, marker="o")
    ax.set_xlabel("requests (cache off, varied short texts)")
    ax.set_ylabel("RSS (MB)")
    ax.set_title("Resident memory, both engines loaded")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

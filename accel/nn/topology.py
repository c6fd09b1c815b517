"""SCALE-Sim topology CSVs: one convolution or fully-connected layer per row, read into :class:`ConvLayerShape`.

The format (SCALE-Sim, Samajdar et al. 2018) is a header line, then one row per layer::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,

How :func:`load_topology` reads what real files contain:

- Spaces around fields are stripped; a trailing comma (an empty last field) is ignored.
- Blank lines and lines of commas only are skipped.
- The first non-blank line is the header if its first field is ``Layer name``; otherwise it is a layer.
- Columns after ``Strides`` are ignored (``Resnet50.csv`` has ``Eh, Ew, e2``: SCALE-Sim's own output sizes).
- ``Num Filter = 1`` with ``Channels = C > 1`` is a depthwise convolution (``mobilenet.csv``): ``C`` groups
  and ``C`` output channels, so ``k == groups == c``. Its MACs, ``C·R·S·out_h·out_w``, are what SCALE-Sim
  counts for the row.
- The IFMAP is the already-padded input, as SCALE-Sim treats it: no padding is added, and
  ``out = (ifmap - filter) // stride + 1`` — the same as :class:`~accel.nn.layers.Conv2d` with padding 0.
  (SCALE-Sim rounds up instead, ``ceil((ifmap - filter + stride) / stride)``, counting a partial last
  window; the two differ only when the stride does not divide ``ifmap - filter``.) Files that list the
  unpadded size of a "same"-padded layer (56×56 into a 3×3 layer of ResNet) thus give 54×54 outputs;
  :meth:`ConvLayerShape.same_padded` reads such a row as the unpadded size instead.
- A fully-connected row (IFMAP 1×1, or a filter as large as the IFMAP) is a convolution covering the whole
  input: ``r == h``, ``s == w``, a 1×1 output (:attr:`ConvLayerShape.is_fc`). :meth:`ConvLayerShape.graph`
  turns it into ``Flatten`` + ``Dense``, the same arithmetic.

Anything else that cannot be read (missing or non-integer fields, values outside 1..:data:`MAX_VALUE`, a filter
or a stride larger than the IFMAP, a repeated layer name) raises :class:`UserError` naming the file, the line
and the field.

Real networks' files ship with the package (``topologies/``, from SCALE-Sim; provenance in its README):
:func:`bundled_names` lists them, :func:`bundled` loads one by name.
"""

from dataclasses import dataclass, replace
from importlib.resources import as_file, files
from pathlib import Path

from ..errors import UserError
from ..spec import shown
from .graph import Graph
from .layers import Conv2d, Dense, Flatten

MAX_VALUE = 2**20
"""The largest value of a row's field (1,048,576: far above any real layer's sizes, channels or filters)."""
FIELDS = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels", "Num Filter", "Strides")


@dataclass(frozen=True)
class ConvLayerShape:
    """One layer of a topology file: ``c × h × w`` input (padding included), ``k`` filters of ``r × s``."""

    name: str
    h: int
    w: int
    r: int
    s: int
    c: int
    k: int
    stride: int
    groups: int = 1

    @property
    def out_h(self) -> int:
        return (self.h - self.r) // self.stride + 1

    @property
    def out_w(self) -> int:
        return (self.w - self.s) // self.stride + 1

    @property
    def macs(self) -> int:
        return self.k * self.out_h * self.out_w * (self.c // self.groups) * self.r * self.s

    @property
    def weights(self) -> int:
        """Weight count (the format has no biases)."""
        return self.k * (self.c // self.groups) * self.r * self.s

    @property
    def is_fc(self) -> bool:
        """A fully-connected layer: the filter covers the whole input."""
        return (self.r, self.s) == (self.h, self.w) and self.groups == 1

    def same_padded(self) -> "ConvLayerShape":
        """This layer read as an *unpadded* IFMAP given "same" padding, ``(R - 1) // 2`` rows and columns on each
        side (ResNet's 56×56 into a 3×3: a 58×58 padded IFMAP, a 56×56 output)."""
        return replace(self, h=self.h + 2 * ((self.r - 1) // 2), w=self.w + 2 * ((self.s - 1) // 2))

    def graph(self) -> Graph:
        """This layer alone as a shape-only graph: ``Conv2d`` without padding, or ``Flatten`` + ``Dense``."""
        g = Graph(self.name, (self.c, self.h, self.w))
        if self.is_fc:
            g.add("flatten", Flatten())
            g.add(self.name, Dense(self.k, bias=False))
        else:
            g.add(self.name, Conv2d(self.k, (self.r, self.s), self.stride, groups=self.groups, bias=False))
        return g


def _parse_row(where: str, fields: list[str]) -> ConvLayerShape:
    if len(fields) < 1 + len(FIELDS):
        raise UserError(f"{where}: {len(fields)} field(s), expected {1 + len(FIELDS)}: Layer name, "
                        f"{', '.join(FIELDS)}")
    name = fields[0]
    if not name:
        raise UserError(f"{where}: the layer name is empty")
    values = {}
    for field, text in zip(FIELDS, fields[1:]):
        digits = text.lstrip("0")  # its length bounds the value without int() of thousands of digits
        if not text.isdecimal() or not digits:
            raise UserError(f"{where}: layer '{name}': {field} is {shown(text)}, expected an integer >= 1")
        if len(digits) > len(str(MAX_VALUE)) or int(digits) > MAX_VALUE:
            raise UserError(f"{where}: layer '{name}': {field} is {shown(text)}, expected at most {MAX_VALUE}")
        values[field] = int(digits)
    h, w, r, s, c, k, stride = values.values()
    if r > h or s > w:
        raise UserError(f"{where}: layer '{name}': filter {r}x{s} is larger than the IFMAP {h}x{w}")
    if stride > min(h, w):
        raise UserError(f"{where}: layer '{name}': Strides is {stride}, larger than the IFMAP {h}x{w}; expected "
                        f"at most {min(h, w)}")
    groups = c if k == 1 else 1  # depthwise: Num Filter = 1 stands for one filter per channel
    return ConvLayerShape(name, h, w, r, s, c, c if groups > 1 else k, stride, groups)


def load_topology(path: str | Path) -> list[ConvLayerShape]:
    """The layers of the SCALE-Sim topology CSV at ``path``, in file order (interpretation: module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise UserError(f"topology file '{path}': cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"topology file '{path}': cannot read it (not UTF-8 text)") from None
    layers: dict[str, ConvLayerShape] = {}
    header_possible = True
    for number, line in enumerate(text.splitlines(), 1):
        fields = [field.strip() for field in line.split(",")]
        if not any(fields):
            continue
        is_header = header_possible and fields[0].lower() == "layer name"
        header_possible = False
        if is_header:
            continue
        while fields and not fields[-1]:
            fields.pop()
        layer = _parse_row(f"{path}:{number}", fields)
        if layer.name in layers:
            raise UserError(f"{path}:{number}: layer name '{layer.name}' is used twice")
        layers[layer.name] = layer
    if not layers:
        raise UserError(f"topology file '{path}': no layers")
    return list(layers.values())


BUNDLED = files(__package__) / "topologies"  # the package data folder of SCALE-Sim CSVs


def bundled_names() -> list[str]:
    """The names of the topology files shipped with accel (file names without ``.csv``), sorted."""
    return sorted(entry.name.removesuffix(".csv") for entry in BUNDLED.iterdir() if entry.name.endswith(".csv"))


def bundled(name: str) -> list[ConvLayerShape]:
    """The layers of the bundled topology ``name`` (one of :func:`bundled_names`), read by :func:`load_topology`."""
    names = bundled_names()
    if name not in names:
        raise UserError(f"topology '{name}' is not bundled; bundled: {', '.join(names)}")
    with as_file(BUNDLED / f"{name}.csv") as path:
        return load_topology(path)

"""Which component ``rtl_gen`` builds for each kind of spec."""

from amaranth.lib import wiring

from accel.spec import DotProductSpec, EieSpec, MacArraySpec, Spec, XnorSpec

from .eie.engine import Eie
from .lib.dot_product import DotProduct
from .mac_array.engine import MacArray
from .xnor.engine import XnorEngine

COMPONENTS: dict[type[Spec], type[wiring.Component]] = {
    DotProductSpec: DotProduct,
    MacArraySpec: MacArray,
    EieSpec: Eie,
    XnorSpec: XnorEngine,
}


def build(spec: Spec) -> wiring.Component:
    """A fresh component implementing ``spec``."""
    return COMPONENTS[type(spec)](spec)

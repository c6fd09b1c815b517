"""Which component ``rtl_gen`` builds for each kind of spec."""

from amaranth.lib import wiring

from accel.spec import DotProductSpec, MacArraySpec, Spec

from .lib.dot_product import DotProduct
from .mac_array.engine import MacArray

COMPONENTS: dict[type[Spec], type[wiring.Component]] = {
    DotProductSpec: DotProduct,
    MacArraySpec: MacArray,
}


def build(spec: Spec) -> wiring.Component:
    """A fresh component implementing ``spec``."""
    return COMPONENTS[type(spec)](spec)

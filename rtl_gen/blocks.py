"""Which component ``rtl_gen`` builds for each kind of spec."""

from amaranth.lib import wiring

from accel.spec import DotProductSpec, Spec

from .lib.dot_product import DotProduct

COMPONENTS: dict[type[Spec], type[wiring.Component]] = {
    DotProductSpec: DotProduct,
}


def build(spec: Spec) -> wiring.Component:
    """A fresh component implementing ``spec``."""
    return COMPONENTS[type(spec)](spec)

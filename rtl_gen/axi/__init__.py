"""AXI around any engine's shell: an AXI4-Lite register map (:mod:`.lite`, :mod:`.registers`), an AXI4 master
for the memory port (:mod:`.master`) and the wrapped top (:mod:`.wrapper`)."""

"""Complete board designs: an engine behind its AXI wrapper, on-chip memory, a UART bridge and a PLL."""

"""Hardware generation: Amaranth components built from ``accel.spec`` specs, exported to Verilog."""

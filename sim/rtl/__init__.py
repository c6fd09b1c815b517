"""cocotb + Verilator simulation of generated RTL."""

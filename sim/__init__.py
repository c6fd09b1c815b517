"""Execution of Programs: golden (numpy, bit-exact), perf (cycle models) and rtl (cocotb + Verilator)."""

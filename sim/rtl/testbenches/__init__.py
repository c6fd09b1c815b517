"""cocotb testbenches, one module per block or engine; each test is run by sim.rtl.runner.run."""

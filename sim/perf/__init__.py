"""Performance models: fast cycle and counter predictions equal to the RTL under the default memory model."""

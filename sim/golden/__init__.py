"""Golden executors: numpy, bit-exact; they define the bits every other executor must produce."""

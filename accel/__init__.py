"""accel: describe, generate, simulate and compile accelerators for compressed neural networks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("accel")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

"""Settings of the accel tests: property-based tests are derandomized (every run, here or in CI, tries the
same examples), keep no example database in the tree and have no per-example deadline (a shared machine
may be slow); each test sets its own number of examples."""

from hypothesis import settings

settings.register_profile("accel", derandomize=True, database=None, deadline=None)
settings.load_profile("accel")

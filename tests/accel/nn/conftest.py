"""Fixtures of the network IR tests."""

import os
from pathlib import Path

import pytest


@pytest.fixture
def workloads() -> Path:
    """The shared SCALE-Sim CSVs: $ACCEL_WORKLOADS, else /work/shared/workloads beside the repository.

    A missing folder fails the test that needs it; it is never skipped.
    """
    folder = Path(os.environ.get("ACCEL_WORKLOADS")
                  or Path(__file__).resolve().parents[3].parent / "shared" / "workloads")
    if not folder.is_dir():
        pytest.fail(f"workloads folder {folder} is missing: set ACCEL_WORKLOADS to the folder of SCALE-Sim CSVs")
    return folder

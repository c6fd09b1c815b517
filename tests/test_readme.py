"""The README's commands are the ones that run: CI runs exactly its test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_ci_runs_exactly_the_readme_test_command():
    test_command = next(b.strip() for b in shell_blocks() if "pytest" in b)
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci_lines[-1] == test_command


def test_setup_command_runs_the_main_job():
    setup = shell_blocks()[0]
    assert "pip install -e ." in setup and "accel run digits-cnn --engine mac_array --backend rtl" in setup
    assert any("accel generate dot_product" in block and "accel synth dot_product" in block
               for block in shell_blocks()[1:])  # the smallest example stays, further down

"""What every benchmark prints and writes: an aligned table on stdout and a JSON record under results/."""

import datetime
import json
import platform
from pathlib import Path


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """``rows`` as right-aligned text; ``columns`` are (key, heading, format), None printed as '-'."""
    cells = [[heading for _, heading, _ in columns]]
    for row in rows:
        cells.append(["-" if row[key] is None else fmt.format(row[key]) for key, _, fmt in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def write_json(path: Path, benchmark: str, **fields) -> None:
    """Write the benchmark's record (its name, date and Python version first) to ``path``; say where."""
    record = {"benchmark": benchmark, "date": datetime.date.today().isoformat(),
              "python": platform.python_version(), **fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    print(f"wrote {path}")

"""Where derived artefacts live, and how they are keyed.

Verilator models, FPGA reports and other expensive results are cached under one directory, keyed by a
content hash of everything that determines them. The directory is ``$ACCEL_CACHE_DIR`` if set, else
``~/.cache/accel``.
"""

import hashlib
import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache directory for ``parts`` (created if missing)."""
    root = Path(os.environ.get("ACCEL_CACHE_DIR") or Path.home() / ".cache" / "accel")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def content_hash(*chunks: str | bytes, length: int = 16) -> str:
    """Hex SHA-256 of ``chunks`` (each length-prefixed so boundaries matter), cut to ``length`` digits."""
    digest = hashlib.sha256()
    for chunk in chunks:
        data = chunk.encode() if isinstance(chunk, str) else chunk
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:length]

"""Where derived artefacts live, and how they are keyed.

Verilator models, FPGA reports and other expensive results are cached under one directory, keyed by a
content hash of everything that determines them. The directory is ``$ACCEL_CACHE_DIR`` if set, else
``~/.cache/accel``.

A cached Verilator model is a program that runs as you, so the cache must be yours alone: the root is
created with mode 0o700, and one that belongs to another user or that group or others may write is refused
(a :class:`~accel.errors.UserError` naming the folder and the fix), as is one that is not a folder or
cannot be written. Your own root that group or others may write (a umask of 002) is made private instead.
A root that is a link is followed and its folder checked; the folders above are not.
"""

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import UserError

_FIX = "set ACCEL_CACHE_DIR to a folder of your own that you can write, e.g. ~/.cache/accel"


def cache_root() -> Path:
    """The cache's root folder (not checked or created; :func:`cache_dir` does that)."""
    return Path(os.environ.get("ACCEL_CACHE_DIR") or Path.home() / ".cache" / "accel").expanduser().absolute()


def unusable(path: Path, why: str) -> UserError:
    """The error for a cache folder ``path`` that cannot be used because ``why``."""
    return UserError(f"cache: {path} {why}; {_FIX}")


def private(path: Path) -> None:
    """Raise unless ``path`` belongs to this user and only this user may write it."""
    status = path.lstat()
    if status.st_uid != os.getuid():
        raise unusable(path, f"belongs to uid {status.st_uid}, not to you (uid {os.getuid()}), so its models "
                             "could run someone else's code as you")
    if status.st_mode & 0o022:
        raise unusable(path, f"may be written by group or others (mode {stat.S_IMODE(status.st_mode):o}), so "
                             "its models could run someone else's code as you")


def cache_dir(*parts: str) -> Path:
    """The cache directory for ``parts`` (created if missing), under a checked root (see the module)."""
    root = cache_root()
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise unusable(root, "is a file, not a folder") from None
    except OSError as error:
        raise unusable(root, f"cannot be created ({error.strerror})") from None
    root = root.resolve()  # a link to a folder elsewhere is fine; the folder is checked
    status = root.stat()
    if status.st_uid == os.getuid() and status.st_mode & 0o022:
        root.chmod(stat.S_IMODE(status.st_mode) & ~0o077)
    private(root)
    path = root.joinpath(*parts)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path) as probe:  # it can be written (not read-only, not full)
            probe.write(bytes(4096))
            probe.flush()
    except OSError as error:
        raise unusable(path, f"cannot be written ({error.strerror})") from None
    return path


def content_hash(*chunks: str | bytes, length: int = 16) -> str:
    """Hex SHA-256 of ``chunks`` (each length-prefixed so boundaries matter), cut to ``length`` digits."""
    digest = hashlib.sha256()
    for chunk in chunks:
        data = chunk.encode() if isinstance(chunk, str) else chunk
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:length]


def cached_text(folder: str, name: str, make: Callable[[], str]) -> str:
    """The text cached as ``cache_dir(folder)/name``, made by ``make()`` and stored there on a miss.

    ``name`` must hold a content hash of everything ``make`` depends on. A cached file is read only if it is
    this user's alone (:func:`private`); one that is not is made again. The file is written whole under a
    temporary name and renamed into place, so a reader never sees part of it; two processes making the same
    text at once both write it, and either copy serves.
    """
    path = cache_dir(folder) / name
    try:
        private(path)
        return path.read_text()
    except (OSError, UserError):
        pass
    text = make()
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{name}-", delete=False) as file:
        try:
            file.write(text)
            file.close()
            os.replace(file.name, path)
        except BaseException:
            Path(file.name).unlink(missing_ok=True)
            raise
    return text

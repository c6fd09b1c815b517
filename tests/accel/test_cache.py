"""The cache root: created private, refused (one-line UserError naming the folder and the fix) when it is
not a folder, belongs to someone else, cannot be written or is full."""

import os
import subprocess

import pytest

from accel.cache import cache_dir, cached_text
from accel.errors import UserError

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown to another user, mount a filesystem)")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """``ACCEL_CACHE_DIR`` set to a (not yet existing) folder in the test's directory."""
    path = tmp_path / "cache"
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(path))
    return path


@pytest.fixture
def mounted(tmp_path):
    """``mounted(options)``: a fresh tmpfs mounted with ``options`` in the test's directory (unmounted after)."""
    points = []

    def mount(options: str):
        point = tmp_path / f"mount{len(points)}"
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=True)
        points.append(point)
        return point

    yield mount
    for point in points:
        subprocess.run(["umount", str(point)], check=True)


def test_created_private(cache):
    assert cache_dir("verilator") == cache / "verilator"
    assert (cache.stat().st_mode & 0o777, (cache / "verilator").stat().st_mode & 0o777) == (0o700, 0o700)


def test_own_root_writable_by_others_is_made_private(cache):
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    cache_dir("models")
    assert cache.stat().st_mode & 0o777 == 0o700


def test_a_link_to_a_folder_of_ours_is_followed(cache, tmp_path):
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    cache.symlink_to(tmp_path / "elsewhere")
    assert cache_dir("fpga") == tmp_path / "elsewhere" / "fpga"


def test_file_instead_of_folder(cache):
    cache.write_text("")
    with pytest.raises(UserError, match=f"cache: {cache} is a file, not a folder; set ACCEL_CACHE_DIR"):
        cache_dir("verilator")
    cache.unlink()
    cache.mkdir()
    (cache / "verilator").write_text("")
    with pytest.raises(UserError, match=f"cache: {cache}/verilator cannot be written"):
        cache_dir("verilator")


@root_only
@pytest.mark.parametrize("mode", [0o700, 0o777])
def test_root_of_another_user_is_refused(cache, mode):
    cache.mkdir()
    os.chown(cache, 65534, 65534)
    cache.chmod(mode)
    with pytest.raises(UserError, match=f"cache: {cache} belongs to uid 65534, not to you"):
        cache_dir("verilator")


def test_read_only(tmp_path, monkeypatch, mounted):
    if os.geteuid() == 0:  # root writes through permissions: a read-only filesystem
        folder = mounted("ro,mode=0700")
    else:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(folder / "cache"))
    with pytest.raises(UserError, match=f"cache: {folder}/cache cannot be created") as error:
        cache_dir("verilator")
    assert "ACCEL_CACHE_DIR" in str(error.value)


@root_only
def test_full(monkeypatch, mounted):
    folder = mounted("size=64k,mode=0700")
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(folder))
    with open(folder / "filler", "wb", buffering=0) as filler, pytest.raises(OSError, match="No space left"):
        while True:
            filler.write(bytes(4096))
    with pytest.raises(UserError, match=f"cache: {folder}/verilator cannot be written \\(No space left on device\\)"):
        cache_dir("verilator")


def test_cached_text_is_made_once_and_kept_private(cache):
    made = []

    def make():
        made.append(1)
        return "module m; endmodule\n"

    assert cached_text("verilog", "m-0123.v", make) == "module m; endmodule\n"
    assert cached_text("verilog", "m-0123.v", make) == "module m; endmodule\n"
    path = cache / "verilog" / "m-0123.v"
    assert (len(made), path.stat().st_mode & 0o777) == (1, 0o600)
    assert [p.name for p in path.parent.iterdir()] == ["m-0123.v"]  # no temporary file left behind


def test_cached_text_others_may_write_is_made_again(cache):
    cached_text("verilog", "m.v", lambda: "old")
    path = cache / "verilog" / "m.v"
    path.chmod(0o666)
    assert cached_text("verilog", "m.v", lambda: "new") == "new"
    assert (path.read_text(), path.stat().st_mode & 0o777) == ("new", 0o600)


def test_cached_text_a_failed_make_leaves_nothing(cache):
    def fail():
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        cached_text("verilog", "m.v", fail)
    assert list((cache / "verilog").iterdir()) == []

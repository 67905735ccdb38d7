"""atomic_write: what every save in gradwire goes through."""
import os
import stat
from pathlib import Path

import pytest

from autodiff.files import atomic_write


def test_new_file_gets_umask_permissions_not_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        p = atomic_write(tmp_path / "a" / "b.svg", lambda f: f.write(b"<svg/>"), binary=True)
    finally:
        os.umask(old)
    assert Path(p).read_bytes() == b"<svg/>"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o644


def test_error_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "model.json"
    atomic_write(target, lambda f: f.write("old"))

    def crash(f):
        f.write("half of the new")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(target, crash)
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["model.json"]


def test_a_path_that_is_not_a_path_is_a_type_error():
    with pytest.raises(TypeError, match="cannot save to 3: expected a file path"):
        atomic_write(3, lambda f: f.write("x"))


def test_interrupt_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "model.json"
    atomic_write(target, lambda f: f.write("old"))

    def interrupted(f):
        f.write("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["model.json"]

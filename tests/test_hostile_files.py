"""Saving onto hostile targets: pipes, devices, sockets, links, folders, long names, interrupts.

Every save in gradwire (models, diagrams, stepper pages, plots) goes through
``autodiff.files.atomic_write``; these cases check it never replaces what is not a regular
file, writes through links, names the path the user gave, and leaves no temporary file.
"""
import errno
import os
import socket
import stat
import sys
import tempfile

import pytest

from autodiff import Value
from autodiff.files import NotARegularFile, atomic_write


def write_new(f):
    f.write("new")


def leftovers(folder):
    """Temporary files a save left in ``folder``."""
    return [n for n in os.listdir(folder) if n.endswith(".tmp") or n.startswith(".gw-")]


def test_fifo_is_refused_and_stays_a_fifo(tmp_path):
    target = tmp_path / "model.json"
    os.mkfifo(target)
    with pytest.raises(NotARegularFile, match="named pipe") as e:
        atomic_write(target, write_new)
    assert e.value.filename == str(target)
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert leftovers(tmp_path) == []


def test_socket_is_refused(tmp_path):
    folder = tempfile.mkdtemp(dir="/tmp")  # a socket path must be short
    target = os.path.join(folder, "s.svg")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(target)
        with pytest.raises(NotARegularFile, match="socket"):
            atomic_write(target, write_new)
        assert stat.S_ISSOCK(os.lstat(target).st_mode)
        assert leftovers(folder) == []
    finally:
        sock.close()
        os.unlink(target)
        os.rmdir(folder)


def test_link_to_a_device_is_refused_and_the_device_untouched(tmp_path):
    link = tmp_path / "out.json"
    os.symlink("/dev/null", link)
    with pytest.raises(NotARegularFile, match="character device") as e:
        atomic_write(link, write_new)
    assert e.value.filename == str(link) and "/dev/null" in str(e.value)
    assert os.path.islink(link) and os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert leftovers(tmp_path) == []


def test_symlink_is_written_through_to_its_real_file(tmp_path):
    real = tmp_path / "data" / "model.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.json"
    os.symlink(os.path.join("data", "model.json"), link)  # a relative link
    assert atomic_write(link, write_new) == str(link)
    assert os.path.islink(link)
    assert real.read_text() == "new" and link.read_text() == "new"
    assert leftovers(tmp_path) == [] and leftovers(real.parent) == []


def test_chain_of_links_and_dangling_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    os.symlink(real, tmp_path / "one")
    os.symlink(tmp_path / "one", tmp_path / "two")
    atomic_write(tmp_path / "two", write_new)
    assert real.read_text() == "new" and os.path.islink(tmp_path / "two")
    # a dangling link: the file it points to is created, the link stays a link
    os.symlink(tmp_path / "later.txt", tmp_path / "dangling")
    atomic_write(tmp_path / "dangling", write_new)
    assert os.path.islink(tmp_path / "dangling")
    assert (tmp_path / "later.txt").read_text() == "new"


def test_link_loop_is_a_clear_error_not_replaced(tmp_path):
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    with pytest.raises(OSError) as e:
        atomic_write(tmp_path / "a", write_new)
    assert e.value.errno == errno.ELOOP and e.value.filename == str(tmp_path / "a")
    assert os.path.islink(tmp_path / "a") and os.path.islink(tmp_path / "b")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("length", [250, 255])
def test_longest_legal_file_names_save(tmp_path, length):
    name = "m" * (length - 5) + ".json"
    assert len(name) == length
    atomic_write(tmp_path / name, write_new)
    assert (tmp_path / name).read_text() == "new"
    assert leftovers(tmp_path) == []


def test_folder_target_names_the_path_given_not_a_temp_file(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as e:
        atomic_write(folder, write_new)
    assert e.value.filename == str(folder) and "folder" in str(e.value)
    assert ".tmp" not in str(e.value) and ".gw-" not in str(e.value)
    assert os.listdir(folder) == [] and leftovers(tmp_path) == []


def test_trailing_separator_is_a_folder_name(tmp_path):
    target = str(tmp_path / "new") + os.sep
    with pytest.raises(IsADirectoryError) as e:
        atomic_write(target, write_new)
    assert e.value.filename == target
    assert os.listdir(tmp_path) == []


def test_empty_path_is_a_clear_error(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(FileNotFoundError, match="file name is empty") as e:
        atomic_write("", write_new)
    assert e.value.filename == ""
    assert os.listdir(tmp_path) == ["work"] and os.listdir(work) == []


def test_replacing_a_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "secret.json"
    target.write_text("old")
    os.chmod(target, 0o600)
    old = os.umask(0o022)
    try:
        atomic_write(target, write_new)
    finally:
        os.umask(old)
    assert target.read_text() == "new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_replacing_another_users_file_as_root_keeps_its_owner(tmp_path):
    target = tmp_path / "theirs.json"
    target.write_text("old")
    os.chown(target, 12345, 12345)
    atomic_write(target, write_new)
    st = os.stat(target)
    assert (st.st_uid, st.st_gid) == (12345, 12345) and target.read_text() == "new"


def test_disk_error_mid_write_names_the_target(tmp_path):
    target = tmp_path / "m.json"

    def full(f):
        f.write("x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as e:
        atomic_write(target, full)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("existing", [True, False])
@pytest.mark.parametrize("binary", [False, True])
def test_interrupt_at_any_point_leaves_old_file_and_no_temp(tmp_path, existing, binary):
    """Ctrl-C anywhere inside a save (a KeyboardInterrupt raised from a trace hook after
    n Python events, for every n until the save completes) leaves the file whole, old
    (or absent) or new, and no temporary file."""
    target = tmp_path / "model.json"
    before = ["old"] if existing else []
    n = 0
    while True:
        n += 1
        if existing:
            target.write_text("old")
        elif target.exists():
            target.unlink()
        events = [0]

        def hook(frame, event, arg, events=events, n=n):
            events[0] += 1
            if events[0] == n:
                raise KeyboardInterrupt
            return hook

        sys.settrace(hook)
        try:
            atomic_write(target, (lambda f: f.write(b"new")) if binary else write_new,
                         binary=binary)
        except KeyboardInterrupt:
            sys.settrace(None)
            # whole old content (or none), or whole new once the rename happened
            now = [target.read_text()] if target.exists() else []
            assert now in (before, ["new"]), f"interrupt at event {n}"
            assert leftovers(tmp_path) == [], f"interrupt at event {n}"
            continue
        finally:
            sys.settrace(None)
        break
    assert n > 20  # the hook really hit the save's steps
    assert target.read_text() == "new" and leftovers(tmp_path) == []


def test_model_save_refuses_a_fifo_and_writes_through_a_link(tmp_path):
    from nn import MLP
    m = MLP(2, [2, 1], seed=0)
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(NotARegularFile):
        m.save(tmp_path / "fifo.json")
    (tmp_path / "real.json").write_text("{}")
    os.symlink("real.json", tmp_path / "link.json")
    m.save(tmp_path / "link.json")
    assert os.path.islink(tmp_path / "link.json")
    assert MLP.load(tmp_path / "real.json")([1.0, 2.0]).data == m([1.0, 2.0]).data


def test_diagram_and_page_saves_refuse_a_fifo(tmp_path):
    pytest.importorskip("graphviz")
    from visualize import render, stepper
    f = (Value(2.0, "a") * Value(3.0, "b")).exp()
    os.mkfifo(tmp_path / "f.svg")
    os.mkfifo(tmp_path / "f.html")
    with pytest.raises(NotARegularFile):
        stepper(f).save(str(tmp_path / "f.html"))
    f.backward()
    with pytest.raises(NotARegularFile):
        render(f, str(tmp_path / "f.svg"))
    assert stat.S_ISFIFO(os.lstat(tmp_path / "f.svg").st_mode)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "f.html").st_mode)
    assert leftovers(tmp_path) == []

"""Fault injection: signals at chosen moments, a full disk, a read-only or forbidden output folder,
symbolic links in and around OUT, two runs into one OUT, corrupted cache entries, and malicious
pickles for every weight loader. Every case must end in a documented exit code with one line on
stderr, and leave only whole files: no half-written file, no folder that mixes two runs or says
"finished" when it is not, nothing touched outside OUT.

The command line runs in a subprocess; ``$MOTIONSEG_FAULT`` (``motionseg_trt.faults``) makes the
fault happen at a named point, so each case is deterministic. Real tmpfs mounts (full, read-only) and
dropped capabilities (permission denied for root) are used where the machine allows them, and the
same faults are injected as ``OSError`` where it does not.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from _faults import assert_consistent, mask_names, one_line_error, run_cli, snapshot, start_cli
from _video import make_pan_frames, write_video

from motionseg_trt.errors import FileSystemError, ModelFileError, OutputError
from motionseg_trt.io.lock import LOCK_NAME
from motionseg_trt.io.output_dir import MARKER, OutputFolder, check_output_dir, claim_output_dir

FAST = ["--window", "8", "--stride", "4", "--no-progress", "--motion-model", "geometric"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """40 frames of 64x48: ten windows of the settings above, a second or two per run."""
    path = str(tmp_path_factory.mktemp("faults") / "clip.mp4")
    return write_video(path, make_pan_frames(40, (64, 48), seed=3).frames)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, clip):
    """A complete output folder of the clip, to copy where a test needs a previous run's results."""
    out = tmp_path_factory.mktemp("done") / "out"
    code, _, err = run_cli(["run", clip, "--out", out, *FAST])
    assert code == 0, err
    return out


@pytest.fixture
def here(capsys, monkeypatch):
    """``here(argv, fault="") -> (code, stdout, stderr)``: the command line in this process (faster than a
    subprocess; for the faults that are not signals)."""
    from motionseg_trt import faults
    from motionseg_trt.cli.main import main

    def run(argv, fault: str = ""):
        monkeypatch.setenv(faults.ENV, fault)
        monkeypatch.setattr(faults, "_plan", None)
        monkeypatch.setattr(faults, "_hits", {})
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _previous_results(finished_run, dest) -> dict:
    shutil.copytree(finished_run, dest)
    return snapshot(dest)


# ------------------------------------------------------------------------------------ signals
EARLY = ["after-lock", "before-first-frame"]
MIDWAY = ["after-first-window", "during-drain"]


def _signal_cases():
    """Every point with SIGINT and SIGTERM; the daily lane (not slow) keeps SIGINT everywhere (SIGTERM
    is sent before the first mask by the test after this one), the rest runs in the full suite."""
    for point in EARLY + MIDWAY + ["during-finish"]:
        for signame in ("SIGINT", "SIGTERM"):
            slow = signame == "SIGTERM"
            yield pytest.param(point, signame, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("point, signame", list(_signal_cases()))
def test_a_signal_at_each_point_exits_130_or_143_and_leaves_whole_files(tmp_path, clip, point, signame):
    out = tmp_path / "out"
    # before-write sleeps: the writer thread is still busy when the signal comes during the final drain
    # (where closing the encoder under it used to crash the process with SIGSEGV)
    fault = f"{point}:{signame}" + (",before-write:sleep=0.3" if point == "during-drain" else "")
    code, _, err = run_cli(["run", clip, "--out", out, *FAST], fault)
    assert code == 128 + getattr(signal, signame), err
    assert one_line_error(err) == "motionseg-trt: interrupted; completed files are kept"
    if point in EARLY:
        assert not out.exists()  # a new OUT: removed again, as if the run had never started
        return
    finished = assert_consistent(out)
    if point in MIDWAY:  # (the windows already handed to the writer are written: up to all 40 masks)
        assert not finished and 0 < len(mask_names(out)) <= 40
    if point != "after-first-window":
        return
    # and the folder takes a retry: --overwrite replaces the partial results with whole ones
    code, _, err = run_cli(["run", clip, "--out", out, "--overwrite", *FAST])
    assert code == 0, err
    assert assert_consistent(out, complete=True) and len(mask_names(out)) == 40


@pytest.mark.parametrize("point", EARLY)
def test_a_signal_before_the_first_mask_leaves_the_previous_results_untouched(tmp_path, clip, finished_run, point):
    out = tmp_path / "out"
    before = _previous_results(finished_run, out)
    code, _, err = run_cli(["run", clip, "--out", out, "--overwrite", *FAST], f"{point}:SIGTERM")
    assert code == 143, err
    assert snapshot(out) == before


@pytest.mark.slow
def test_signals_at_random_moments(tmp_path, clip):
    """Ctrl-C or kill at any moment (imports, start-up, windows, the final drain, after the end). Not in
    the interpreter's own first ~0.1 s: a SIGINT while Python imports its site module is a fatal error
    of the interpreter, before any code of ours runs."""
    rng = np.random.default_rng(7)
    for i in range(16):
        out = tmp_path / f"o{i}"
        sig = [signal.SIGINT, signal.SIGTERM][i % 2]
        proc = start_cli(["run", clip, "--out", out, *FAST], fault="before-write:sleep=0.05")
        time.sleep(float(rng.uniform(0.3, 4.0)))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        if proc.returncode == -sig:  # killed by the default action: only before our code ran (imports)
            assert not out.exists() and not err, (i, err)
            continue
        assert proc.returncode in (0, 128 + sig), (i, proc.returncode, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
        if out.exists():
            assert_consistent(out, complete=True if proc.returncode == 0 else None)


# ------------------------------------------------------------------------------------ full disk
def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(options) -> path`` of a tmpfs (skips the test where mounting is not allowed)."""
    mounted = []

    def mount(options: str) -> Path:
        path = tmp_path / f"mnt{len(mounted)}"
        if not _mount_tmpfs(path, options):
            pytest.skip("cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN); the injected cases cover it")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@pytest.mark.parametrize("size", ["8k", "48k", pytest.param("160k", marks=pytest.mark.slow)])
# full at the start, after a few masks, near the end
def test_a_full_disk_is_exit_7_with_only_whole_files(tmp_path, tmpfs, here, clip, size):
    mnt = tmpfs(f"size={size}")
    out = mnt / "out"
    code, _, err = here(["run", clip, "--out", out, *FAST])
    assert code == 7, err
    assert "disk full" in one_line_error(err)
    if out.exists():
        assert_consistent(out, complete=False)
    assert sorted(os.listdir(mnt)) in ([], ["out"])  # nothing beside OUT


@pytest.mark.parametrize("fault, on", [("before-write@1:ENOSPC", 0), ("before-write@3:ENOSPC", 2),
                                       pytest.param("during-finish:ENOSPC", None, marks=pytest.mark.slow)])
def test_an_injected_full_disk_is_exit_7_with_only_whole_files(tmp_path, here, clip, fault, on):
    out = tmp_path / "out"
    code, _, err = here(["run", clip, "--out", out, *FAST], fault)
    assert code == 7, err
    assert "disk full" in one_line_error(err)
    if on == 0:
        assert not out.exists()  # failed before its first mask: OUT as it was (absent)
        return
    assert not assert_consistent(out)
    if on is not None:
        # the writes before the fault, whole PNGs: the object filter holds 0.4 s (10 frames) back, so the
        # first window (8 frames) writes none, the second frames 0-1, each later one 4
        assert len(mask_names(out)) == 2 + 4 * (on - 1)


# ------------------------------------------------------------------------------------ read-only, forbidden
def test_a_read_only_file_system_is_exit_7(tmpfs, here, clip):
    mnt = tmpfs("ro,size=64k")
    for out in (mnt, mnt / "out"):
        code, _, err = here(["run", clip, "--out", out, *FAST])
        assert code == 7, err
        assert "read-only file system" in one_line_error(err)
    assert os.listdir(mnt) == []


def _without_root_powers():
    """A command prefix that drops the capabilities that let root ignore file permissions."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot drop capabilities here")
    return prefix


def test_permission_denied_is_exit_7(tmp_path, clip):
    prefix = _without_root_powers()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    code, _, err = run_cli(["run", clip, "--out", locked / "out", *FAST], prefix=prefix)
    assert code == 7, err
    assert "permission denied" in one_line_error(err)
    assert os.listdir(locked) == []


@pytest.mark.parametrize("name", ["EACCES", pytest.param("EROFS", marks=pytest.mark.slow),
                                  pytest.param("EIO", marks=pytest.mark.slow)])
def test_injected_write_errors_are_exit_7(tmp_path, here, clip, name):
    out = tmp_path / "out"
    code, _, err = here(["run", clip, "--out", out, *FAST], f"before-write@2:{name}")
    assert code == 7, err
    assert os.strerror(getattr(errno, name)).lower().split()[0] in one_line_error(err).lower()
    assert not assert_consistent(out)


# ------------------------------------------------------------------------------------ symbolic links
def test_a_symlinked_masks_folder_is_refused_and_its_target_untouched(tmp_path, here, clip, finished_run):
    out = tmp_path / "out"
    _previous_results(finished_run, out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "00000.png").write_bytes(b"someone's file")
    shutil.rmtree(out / "masks")
    (out / "masks").symlink_to(elsewhere)
    before = snapshot(tmp_path)
    code, _, err = here(["run", clip, "--out", out, "--overwrite", *FAST])
    assert code == 4 and "symbolic link" in one_line_error(err)
    assert snapshot(tmp_path) == before


def test_links_with_our_names_are_removed_as_links(tmp_path, here, clip, finished_run):
    out = tmp_path / "out"
    _previous_results(finished_run, out)
    victim = tmp_path / "victim.json"
    victim.write_text("keep me")
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"keep me too")
    (out / "run.json").unlink()
    (out / "run.json").symlink_to(victim)
    (out / "masks" / "00003.png").unlink()
    (out / "masks" / "00003.png").symlink_to(picture)
    (out / "run.json.bak").write_text("not ours")
    code, _, err = here(["run", clip, "--out", out, "--overwrite", *FAST])
    # run.json no longer says "ours" (a link), but the marker does
    assert code == 0, err
    assert victim.read_text() == "keep me" and picture.read_bytes() == b"keep me too"
    assert not (out / "run.json").is_symlink() and not (out / "masks" / "00003.png").is_symlink()
    assert (out / "run.json.bak").read_text() == "not ours"
    assert_consistent(out, complete=True)


def test_an_output_folder_that_is_a_link_to_a_folder_is_followed(tmp_path, here, clip):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    code, _, err = here(["run", clip, "--out", tmp_path / "link", *FAST])
    assert code == 0, err
    assert_consistent(real, complete=True)


@pytest.mark.parametrize("case, needle", [
    ("dangling", "does not exist"), ("loop", "symbolic link"), ("below_a_file", "is a file"),
    ("a_file", "not a folder"), ("lock_is_a_link", "symbolic link"), ("root", "root folder"),
    ("home", "home folder"), ("dataset", "no motionseg-trt run wrote"),
])
def test_output_folders_that_cannot_be_used_are_exit_4(tmp_path, here, clip, monkeypatch, case, needle):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    args = ["--overwrite"]
    if case == "dangling":
        out = tmp_path / "out"
        out.symlink_to(tmp_path / "nowhere")
    elif case == "loop":
        out = tmp_path / "a"
        out.symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(out)
    elif case == "below_a_file":
        out = victim / "out"
    elif case == "a_file":
        out = victim
    elif case == "lock_is_a_link":
        out = tmp_path / "out"
        out.mkdir()
        (out / LOCK_NAME).symlink_to(victim)
        args = []
    elif case == "root":
        out = Path("/")
    elif case == "home":
        monkeypatch.setenv("HOME", str(tmp_path))
        out = tmp_path
    else:  # a dataset laid out as <seq>/{clip.mp4, masks/}: its ground truth is not ours to delete
        out = tmp_path / "seq"
        (out / "masks").mkdir(parents=True)
        (out / "masks" / "00000.png").write_bytes(b"ground truth")
    before = snapshot(tmp_path)
    code, _, err = here(["run", clip, "--out", out, *args, *FAST])
    assert code in (4, 7), err
    line = one_line_error(err)
    assert needle in line or (case == "lock_is_a_link" and code == 7 and "symbolic links" in line), line
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------ two runs at once
@pytest.mark.slow  # two subprocesses (~4 s); test_one_process_two_claims checks the lock every day
def test_a_second_run_into_the_same_folder_is_refused_while_the_first_finishes(tmp_path, clip):
    out = tmp_path / "out"
    first = start_cli(["run", clip, "--out", out, "--overwrite", *FAST], fault="before-write:sleep=0.3")
    deadline = time.time() + 60
    while not (out / LOCK_NAME).exists() and time.time() < deadline:
        time.sleep(0.02)
    code, _, err = run_cli(["run", clip, "--out", out, "--overwrite", "--no-overlay", *FAST])
    assert code == 4 and "another motionseg-trt run" in one_line_error(err)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert assert_consistent(out, complete=True) and len(mask_names(out)) == 40
    assert (out / "overlay.mp4").exists()  # the first run's folder, not a mix with the second's


def test_one_process_two_claims(tmp_path):
    """flock locks belong to the open file: two runs in one process (threads) exclude each other too."""
    with claim_output_dir(str(tmp_path / "o")):
        with pytest.raises(OutputError, match=f"another motionseg-trt run \\(pid {os.getpid()}\\)"):
            OutputFolder(str(tmp_path / "o")).claim()
    assert not (tmp_path / "o").exists()  # nothing written: the claim made the folder and took it back
    with claim_output_dir(str(tmp_path / "o")):  # free again
        pass


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path, here, clip):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text("999999\n")  # kill -9 leaves the file, the kernel drops the lock
    check_output_dir(str(out), overwrite=False)  # the lock file alone does not make OUT "not empty"
    code, _, err = here(["run", clip, "--out", out, *FAST])
    assert code == 0, err
    assert_consistent(out, complete=True)


# ------------------------------------------------------------------------------------ corrupted caches
def _tiny_graph(calls: list):
    """A Graph whose export writes a small ONNX model with weights (y = x * w + b)."""
    from motionseg_trt.runtime.network import Graph

    def export(path, fp16):
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        calls.append(path)
        w = numpy_helper.from_array(np.arange(1, 257, dtype=np.float32).reshape(16, 16) / 7.0, "w")
        b = numpy_helper.from_array(np.full(16, 0.5, np.float32), "b")
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["t"]), helper.make_node("Add", ["t", "b"], ["y"])], "tiny",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])], [w, b])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, path)
        return path

    return Graph(name="tiny_faults", part="tiny", input_names=["x"], output_names=["y"], export=export,
                 module=lambda: None)


def _run_graph(path) -> np.ndarray:
    from motionseg_trt.runtime.onnxruntime.loader import SessionFromOnnx

    x = np.linspace(-1, 1, 16, dtype=np.float32)[None]
    return SessionFromOnnx(str(path))().run(None, {"x": x})[0]


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage", "flip_weight_bytes", "no_record",
                                    "garbage_record", "deleted"])
def test_a_corrupt_onnx_export_is_made_again_with_one_notice(tmp_path, capsys, damage):
    from motionseg_trt.config import RunConfig
    from motionseg_trt.runtime import artifacts
    from motionseg_trt.runtime.dispatch import ensure_onnx

    calls = []
    config = RunConfig(engine_cache=str(tmp_path / "cache"))
    path = ensure_onnx(config, _tiny_graph(calls), log=lambda m: None)
    expected = _run_graph(path)
    assert ensure_onnx(config, _tiny_graph(calls), log=lambda m: None) == path and len(calls) == 1  # cached
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    elif damage == "flip_weight_bytes":  # the weights sit at the end: a silent wrong answer if not caught
        for i in range(len(data) - 64 * 4, len(data), 4):
            data[i] ^= 0x40
        path.write_bytes(bytes(data))
    elif damage == "no_record":
        artifacts.check_path(path).unlink()
    elif damage == "garbage_record":
        artifacts.check_path(path).write_text("{not json")
    else:
        path.unlink()
    capsys.readouterr()
    again = ensure_onnx(config, _tiny_graph(calls), log=lambda m: None)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(calls) == 2, damage
    if damage != "deleted":
        assert len(err) == 1 and "cannot be trusted" in err[0] and "exporting it again" in err[0], err
    assert np.array_equal(_run_graph(again), expected)
    assert artifacts.problem(again) is None


def test_an_interrupted_export_leaves_nothing_under_the_final_name(tmp_path):
    from motionseg_trt.config import RunConfig
    from motionseg_trt.runtime.dispatch import ensure_onnx, onnx_path_for

    calls = []
    graph = _tiny_graph(calls)
    real_export = graph.export

    def interrupted(path, fp16):
        real_export(path, fp16)
        raise KeyboardInterrupt  # Ctrl-C just as the file was written

    graph.export = interrupted
    config = RunConfig(engine_cache=str(tmp_path / "cache"))
    with pytest.raises(KeyboardInterrupt):
        ensure_onnx(config, graph, log=lambda m: None)
    folder = onnx_path_for(config, graph, False).parent
    assert os.listdir(folder) == []


def test_a_corrupt_onnx_that_passes_its_check_is_one_line(tmp_path):
    """Written with a matching record by someone else: ONNX Runtime's protobuf error becomes exit 5."""
    from motionseg_trt.runtime import artifacts
    from motionseg_trt.runtime.onnxruntime.loader import SessionFromOnnx

    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x07garbage" * 10)
    artifacts.record(path)
    with pytest.raises(ModelFileError, match="ONNX Runtime cannot load"):
        SessionFromOnnx(str(path))()


def test_downloaded_weights_are_checked_on_use_and_remembered(tmp_path, monkeypatch):
    import hashlib

    from motionseg_trt import download
    from motionseg_trt.official_weights import resolve_weight, weight_path

    path = weight_path("moseg", str(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x01" * 4096)
    Path(str(path) + ".sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "  moseg.pth\n")
    hashed = []
    real = download.sha256_of
    monkeypatch.setattr(download, "sha256_of", lambda p: hashed.append(p) or real(p))
    assert resolve_weight("moseg", None, str(tmp_path)) == str(path) and len(hashed) == 1
    assert resolve_weight("moseg", None, str(tmp_path)) == str(path) and len(hashed) == 1  # remembered
    # flip a byte and put the modification time back: the change time still gives it away
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(ModelFileError, match="does not match the recorded"):
        resolve_weight("moseg", None, str(tmp_path))
    assert len(hashed) == 2


# ------------------------------------------------------------------------------------ malicious pickles
class _Payload:
    """Unpickling this would create ``self.flag``: proof that code from the file ran."""

    def __init__(self, flag):
        self.flag = str(flag)

    def __reduce__(self):
        return (os.mkdir, (self.flag,))


def _malicious_files(tmp_path) -> list[Path]:
    import pickle

    import torch

    flag = tmp_path / "PWNED"
    files = []
    for i, (layout, obj) in enumerate([("torch", {"model_state_dict": _Payload(flag)}),
                                       ("torch", {"model": _Payload(flag)}),
                                       ("torch", _Payload(flag)),
                                       ("pickle", {"state_dict": _Payload(flag)})]):
        path = tmp_path / f"evil{i}.pth"
        if layout == "torch":
            torch.save(obj, path)
        else:
            path.write_bytes(pickle.dumps(obj, protocol=2))
        files.append(path)
    folder = tmp_path / "evil_folder"  # a transformers-style folder: its pytorch_model.bin
    folder.mkdir()
    shutil.copy(files[0], folder / "pytorch_model.bin")
    files.append(folder)
    return files


def _loaders():
    from motionseg_trt.features.depth import load_depth_weights
    from motionseg_trt.features.dino import load_dino_weights
    from motionseg_trt.masks.sam2.loader import load_checkpoint
    from motionseg_trt.motion.classifier.checkpoint import load_classifier
    from motionseg_trt.motion.learned import load_weights
    from motionseg_trt.state_dict import read_state_dict
    from motionseg_trt.tracks.bootstapir.checkpoint import load_bootstapir

    return {"classifier (moseg.pth)": load_classifier, "BootsTAPIR": load_bootstapir,
            "DINOv2": lambda p: load_dino_weights(None, p), "Depth-Anything-V2": lambda p: load_depth_weights(None, p),
            "SAM2": lambda p: load_checkpoint(None, p), "learned classifier": load_weights,
            "any state dict": read_state_dict}


@pytest.mark.parametrize("loader", list(_loaders()))
def test_no_loader_runs_code_from_a_malicious_pickle(tmp_path, monkeypatch, loader):
    monkeypatch.delenv("MOTIONSEG_TRUST_CHECKPOINT", raising=False)
    load = _loaders()[loader]
    for path in _malicious_files(tmp_path):
        if loader == "SAM2" and path.is_dir():
            continue  # SAM2 takes a file only
        with pytest.raises(ModelFileError) as info:
            load(str(path))
        assert "\n" not in str(info.value) and len(str(info.value)) < 600
        assert not (tmp_path / "PWNED").exists(), (loader, path)


def test_no_training_cache_runs_code(tmp_path, capsys):
    """The training data cache (npz shards) is read without pickles: a shard holding an object array,
    or a pickle under a shard's name, is reported in one line and made again."""
    pytest.importorskip("motionseg_training")
    import pickle

    from motionseg_training.data import _read_cached, read_shard

    flag = tmp_path / "PWNED"
    evil = tmp_path / "seeds-0-0-1.npz"
    np.savez(evil, xy=np.array([_Payload(flag)], dtype=object))
    raw = tmp_path / "seeds-1-1-1.npz"
    raw.write_bytes(pickle.dumps(_Payload(flag)))
    for path in (evil, raw):
        assert _read_cached(path, read_shard) is None
        assert not path.exists()  # removed: the caller makes it again
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("making it again" in line for line in err)
    assert not flag.exists()


def test_a_malicious_checkpoint_through_the_command_line(tmp_path, here, clip):
    flag = tmp_path / "PWNED"
    import torch

    torch.save({"weights": _Payload(flag)}, tmp_path / "evil.safetensors")
    code, _, err = here(["run", clip, "--out", tmp_path / "out", *FAST[:-2], "--motion-model", "learned",
                            "--option", f"learned_weights={tmp_path / 'evil.safetensors'}"])
    assert code == 5 and "cannot read learned classifier weights" in one_line_error(err)
    assert not flag.exists() and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------ the newer paths
@pytest.mark.slow  # two batch runs in subprocesses (~3 s)
def test_a_signal_stops_a_batch_with_its_exit_code_and_whole_folders(tmp_path, clip):
    """Several videos (issue 21's batch, one after the other in this process): a kill during the first
    exits 143, its folder holds only whole files, and the second call finishes both."""
    second = tmp_path / "second.mp4"
    shutil.copyfile(clip, second)
    out = tmp_path / "res"
    code, _, err = run_cli(["run", clip, second, "--out", out, *FAST], "after-first-window:SIGTERM")
    assert code == 143, err
    assert "clip: interrupted (exit 143)" in err and "interrupted after 1 of 2 videos" in err
    assert "Traceback" not in err and not (out / "second").exists()
    assert not assert_consistent(out / "clip")  # partial, marked: the next call runs it again
    code, _, err = run_cli(["run", clip, second, "--out", out, *FAST])
    assert code == 0, err
    assert all(assert_consistent(out / name, complete=True) for name in ("clip", "second"))


def test_segment_opens_the_input_before_it_claims_out_and_holds_it_until_closed(tmp_path, clip):
    """The Python API (issue 21) claims OUT as the command line does: not for a bad input; one run at a
    time; closing an unstarted run leaves OUT as it was."""
    from motionseg_trt import segment
    from motionseg_trt.errors import InputError

    out = tmp_path / "out"
    with pytest.raises(InputError):
        segment(tmp_path / "missing.mp4", out=out)
    assert not out.exists()
    run = segment(clip, out=out, window=8, stride=4)
    with pytest.raises(OutputError, match="another motionseg-trt run"):
        segment(clip, out=out)
    run.close()
    assert not out.exists()  # claimed, nothing written: taken back
    results = list(segment(clip, out=out, window=8, stride=4))
    assert len(results) == 40 and assert_consistent(out, complete=True)


def test_an_input_read_once_is_not_opened_again_by_the_overlay(tmp_path):
    """A pipe as the input: the overlay (which reads a file a second time, issue 18) draws on the frames
    the reader kept instead of blocking on a second open."""
    import threading

    clip = write_video(str(tmp_path / "clip.mkv"), make_pan_frames(30, (64, 48), seed=3).frames,
                       container_format="matroska")
    fifo = tmp_path / "pipe.mkv"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as f:
            f.write(Path(clip).read_bytes())

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    code, _, err = run_cli(["run", fifo, "--out", tmp_path / "out", *FAST], timeout=120)
    feeder.join(timeout=10)
    assert code == 0, err
    assert assert_consistent(tmp_path / "out", complete=True) and (tmp_path / "out" / "overlay.mp4").exists()

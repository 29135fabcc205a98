"""Nothing lost, nothing silent (issue 19): the probes of an adversarial user, kept as tests.

Each class is driven where a user would be: the command line in a new process (``run_alexnet``),
or, for faults a test cannot cause on a real machine (a full disk, a Ctrl-C in the middle of a
write), the same command line in a process whose ``os.fdopen`` hands out files that fail the way
a full disk or a Ctrl-C does (:func:`run_faulty`).
"""
from __future__ import annotations

import io
import json
import multiprocessing
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from alexnet import CifarAlexNet, FourLayerCNN
from alexnet.errors import AlexNetError
from alexnet.files import RECORD, update_json, write_json
from alexnet.reproduce import cache
from alexnet.reproduce.results import RESULTS
from helpers import run_alexnet, subprocess_env

FAST = ["--device", "cpu", "--no-progress", "--workers", "0"]

#: Run before the command line: files opened for writing whose name holds MATCH fail after
#: LIMIT bytes with FAULT (a full disk's OSError, or the KeyboardInterrupt of a Ctrl-C).
FAULTY = '''
import errno, os
_fdopen = os.fdopen
class _Faulty:
    def __init__(self, f): self.f, self.n = f, 0
    def write(self, data):
        self.n += len(data)
        if self.n > LIMIT:
            raise FAULT
        return self.f.write(data)
    def __getattr__(self, name): return getattr(self.f, name)
    def __enter__(self): return self
    def __exit__(self, *a): return self.f.__exit__(*a)
def fdopen(fd, mode="r", *a, **k):
    f = _fdopen(fd, mode, *a, **k)
    name = os.readlink(f"/proc/self/fd/{fd}")
    return _Faulty(f) if MATCH in os.path.basename(name) and "w" in mode else f
os.fdopen = fdopen
'''
FULL_DISK = 'OSError(errno.ENOSPC, "No space left on device")'


def run_faulty(match: str, fault: str, *args: str, limit: int = 1000, env=None, cwd=None):
    """``alexnet ARGS`` in a new process whose writes of files named ``*match*`` fail."""
    code = (f"MATCH, LIMIT = {match!r}, {limit}\nFAULT = None\n" + FAULTY +
            f"FAULT = {fault}\nimport sys\nfrom alexnet.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], env=subprocess_env(env),
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def one_line(done, code: int = 1) -> str:
    """The single line a failed command printed on stderr (and its exit status)."""
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# ---------------------------------------------------------------- writes

def test_bench_refuses_to_replace_a_file_it_did_not_write_before_measuring(tmp_path):
    checkpoint = tmp_path / "last.pt"
    torch.save({"model": {}}, checkpoint)
    before = checkpoint.read_bytes()
    done = run_alexnet("bench", "--device", "cpu", "--parts", "lrn", "--out", str(checkpoint))
    assert "did not write it as a bench" in one_line(done) and "--force" in done.stderr
    assert "wrote" not in done.stdout and checkpoint.read_bytes() == before
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    done = run_alexnet("bench", "--device", "cpu", "--out", str(blocked / "bench.json"))
    assert "is a file, not a folder" in one_line(done)


def test_bench_rounds_zero_is_refused():
    done = run_alexnet("bench", "--device", "cpu", "--rounds", "0")
    assert "--rounds: must be a positive integer" in done.stderr and done.returncode == 2


def test_errors_inside_bench_parts_are_printed_not_only_stored(tmp_path):
    out = tmp_path / "bench.json"
    code = ("import sys, alexnet.bench as b\n"
            "b.bench_lrn = lambda s, busy: "
            "{'members': {'stock': {'error': 'RuntimeError: boom'}}}\n"
            "from alexnet.cli import main\nsys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "bench", "--device", "cpu", "--parts",
                           "lrn", "--rounds", "1", "--out", str(out)], env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "alexnet bench: error in lrn.members.stock: RuntimeError: boom" in done.stderr
    assert json.loads(out.read_text())["lrn"]["members"]["stock"]["error"]
    again = run_alexnet("bench", "--device", "cpu", "--parts", "lrn", "--rounds", "1",
                        "--lrn-shape", "1,8,4,4", "--out", str(out))   # its own file: replaced
    assert again.returncode == 0, again.stderr


def test_an_atomic_write_replaces_only_what_the_package_wrote(tmp_path):
    path = tmp_path / "x.json"
    write_json({"a": 1}, path, kind="bench")
    write_json({"a": 2}, path, kind="bench")                 # its own, unchanged: replaced
    with pytest.raises(AlexNetError, match="did not write it as a result"):
        write_json({"a": 3}, path, kind="result")            # another kind of file
    path.write_text('{"a": "edited by hand"}')
    with pytest.raises(AlexNetError, match="or it changed since"):
        write_json({"a": 4}, path, kind="bench")
    write_json({"a": 5}, path, kind="bench", force=True)
    assert json.loads(path.read_text()) == {"a": 5}
    with pytest.raises(AlexNetError, match="non-finite"):
        write_json({"a": float("nan")}, path, kind="bench")
    assert sorted(p.name for p in tmp_path.iterdir()) == [RECORD, "x.json"]   # no temporaries


def _merge_many(args):
    path, who = args
    for i in range(15):
        update_json(path, lambda found, i=i: {**(found or {}), f"{who}-{i}": i}, kind="pilot")


def test_two_processes_merging_one_file_keep_both_parts(tmp_path):
    path = tmp_path / "pilot-test.json"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_merge_many, [(path, "a"), (path, "b")])
    assert len(json.loads(path.read_text())) == 30


# ---------------------------------------------------------------- checkpoints: disk and Ctrl-C

@pytest.mark.parametrize("fault, code, words", [
    (FULL_DISK, 1, "(No space left on device); the checkpoint of epoch 1 is left as it was"),
    ("KeyboardInterrupt()", 130, "interrupted; the last checkpoint written is intact")])
def test_a_fault_while_writing_a_checkpoint_is_one_line_and_keeps_the_last(
        small_cifar, tmp_path, fault, code, words):
    folder = tmp_path / "run"
    args = ["train", "--data", "cifar10", "--arch", "four-layer", "--train-subset", "64",
            "--checkpoint-dir", str(folder), *FAST]
    first = run_alexnet(*args, "--epochs", "1", env=small_cifar)
    assert first.returncode == 0, first.stderr
    before = (folder / "last.pt").read_bytes()
    done = run_faulty(".last.pt.", fault, *args, "--epochs", "2", "--resume", env=small_cifar)
    assert words in one_line(done, code)
    assert "unexpected pos" not in done.stderr
    assert (folder / "last.pt").read_bytes() == before
    assert not list(folder.glob("*.tmp"))


# ---------------------------------------------------------------- the CIFAR-10 archive

def _archive(path: Path, odd: tuple[str, bytes] | None = None, colour: int = 0) -> Path:
    """A CIFAR-10 archive with one 32x32 JPEG per class and split; ``odd`` replaces one."""
    from alexnet.datasets import CIFAR10_CLASSES

    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for label in CIFAR10_CLASSES:
                name = f"cifar10-jpeg/{split}/{label}/0001.jpg"
                buffer = io.BytesIO()
                Image.new("RGB", (32, 32), (colour, 0, 0)).save(buffer, "JPEG")
                data = odd[1] if odd and odd[0] == name else buffer.getvalue()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def _jpeg(size) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (9, 9, 9)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("member, data, words", [
    ("cifar10-jpeg/train/cat/0001.jpg", _jpeg((40, 30)), "is 40x30, not CIFAR-10's 32x32"),
    ("cifar10-jpeg/test/dog/0001.jpg", _jpeg((32, 32))[:200], "is truncated or corrupt")],
    ids=["wrong-size", "truncated"])
def test_a_bad_image_inside_the_archive_is_named_by_its_member(tmp_path, member, data, words):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _archive(data_dir / "cifar10-jpeg.tar.gz", (member, data))
    done = run_alexnet("train", "--data", "cifar10", "--epochs", "1", *FAST,
                       env={"ALEXNET_DATA": str(data_dir), "ALEXNET_CACHE": str(tmp_path / "c")})
    line = one_line(done)
    assert member in line and words in line and "BytesIO" not in line
    assert "alexnet pack" not in line


def test_an_empty_archive_gets_no_pack_advice(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tarfile.open(data_dir / "cifar10-jpeg.tar.gz", "w:gz"):
        pass
    done = run_alexnet("train", "--data", "cifar10", "--epochs", "1", *FAST,
                       env={"ALEXNET_DATA": str(data_dir), "ALEXNET_CACHE": str(tmp_path / "c")})
    line = one_line(done)
    assert "holds no CIFAR-10 JPEGs" in line and "alexnet pack" not in line


def test_a_changed_archive_is_decoded_again(tmp_path, monkeypatch):
    from alexnet.datasets import cifar10

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("ALEXNET_DATA", str(data_dir))
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cache"))
    _archive(data_dir / "cifar10-jpeg.tar.gz", colour=0)
    dark = cifar10(train=True).images[0, 0].float().mean()
    _archive(data_dir / "cifar10-jpeg.tar.gz", colour=250)
    bright = cifar10(train=True).images[0, 0].float().mean()
    assert dark < 20 and bright > 200


def test_a_full_disk_under_the_cache_is_one_line(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _archive(data_dir / "cifar10-jpeg.tar.gz")
    done = run_faulty(".cifar10-jpeg-", FULL_DISK, "train", "--data", "cifar10", "--epochs", "1",
                      *FAST, env={"ALEXNET_DATA": str(data_dir),
                                  "ALEXNET_CACHE": str(tmp_path / "cache")})
    line = one_line(done)
    assert "no space left on the device" in line and "cifar10-jpeg-" in line
    assert not list((tmp_path / "cache").glob(".*.tmp"))


# ---------------------------------------------------------------- models and the LRN

def test_an_empty_batch_is_one_line():
    for model in (CifarAlexNet(), FourLayerCNN()):
        with pytest.raises(AlexNetError, match="empty batch"):
            model(torch.zeros(0, 3, 32, 32))


def test_the_lrn_can_be_traced_with_torch_jit():
    from alexnet.lrn import LocalResponseNorm, local_response_norm_reference

    norm = LocalResponseNorm(5)
    traced = torch.jit.trace(norm, torch.randn(2, 8, 5, 5))
    x = torch.randn(3, 8, 6, 6) * 10
    assert torch.allclose(traced(x), local_response_norm_reference(x, 5), atol=1e-6)
    assert torch.allclose(norm(x), traced(x), atol=1e-5)


def test_departures_leave_the_global_random_state_alone():
    from alexnet.departures import departures

    torch.manual_seed(3)
    state = torch.get_rng_state()
    departures()
    assert torch.equal(state, torch.get_rng_state())


# ---------------------------------------------------------------- the ledger and result files

def _finalised_copy(name: str, folder: Path, scale: str = "cpu") -> Path:
    """A shipped result file in the current schema (one primary test) under ``folder``."""
    result = json.loads((RESULTS / f"{name}-cpu.json").read_text())
    for i, test in enumerate(result["tests"]):
        test["primary"] = i == 0
    result["scale"] = scale
    path = folder / f"{name}-{scale}.json"
    path.write_text(json.dumps(result))
    return path


@pytest.fixture
def results_folder(tmp_path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    for name in ("lrn", "depth"):
        _finalised_copy(name, folder)
    return folder


def _ledger(folder, *more, cwd=None):
    return run_alexnet("reproduce", "ledger", "--out", str(folder), *more) if folder else \
        subprocess.run([sys.executable, "-m", "alexnet", "reproduce", "ledger", *more],
                       env=subprocess_env(), capture_output=True, text=True, cwd=cwd, timeout=120)


def test_the_ledger_replaces_only_files_alexnet_wrote_and_writes_all_or_none(results_folder):
    refused = _ledger(results_folder)
    assert "did not write it" in one_line(refused) and not (results_folder / "LEDGER.md").exists()
    done = _ledger(results_folder, "--force")
    assert done.returncode == 0, done.stderr
    assert "| 2. lrn" in (results_folder / "LEDGER.md").read_text()
    assert _ledger(results_folder).returncode == 0                 # its own files now
    before = {p.name: p.read_bytes() for p in results_folder.iterdir()}
    depth = results_folder / "depth-cpu.json"
    text = depth.read_text()
    for edit, field in ((lambda r: r["tests"][0].update(p=float("nan")), "tests[0].p"),
                        (lambda r: r["runs"][1]["metrics"].update(test_top1=1.7),
                         "runs[1].metrics.test_top1"),
                        (lambda r: r["tests"][0].update(low=5.0, high=-5.0), "tests[0].low")):
        result = json.loads(text)
        edit(result)
        depth.write_text(json.dumps(result))
        line = one_line(_ledger(results_folder, "--force"))
        assert str(depth) in line and f"field {field}" in line
        after = {p.name: p.read_bytes() for p in results_folder.iterdir()}
        assert {k: v for k, v in after.items() if k != depth.name} == \
            {k: v for k, v in before.items() if k != depth.name}


def test_a_result_copied_under_another_claims_name_is_refused(results_folder):
    shutil.copy(results_folder / "lrn-cpu.json", results_folder / "overlap-cpu.json")
    line = one_line(_ledger(results_folder, "--force"))
    assert "overlap-cpu.json holds the result of claim 'lrn'" in line


def test_a_ledger_of_a_mistyped_or_empty_folder_is_one_line(tmp_path):
    assert "no folder" in one_line(_ledger(tmp_path / "rnus"))
    assert "holds no result files for --scale cpu" in one_line(_ledger(tmp_path))
    assert not (tmp_path / "LEDGER.md").exists()


def test_the_shipped_results_are_written_only_when_asked_for_by_name(tmp_path, results_folder):
    shipped = {p.name: p.read_bytes() for p in RESULTS.iterdir()}
    for scale in ("test", "gpu"):                                   # no --out: a user folder
        assert "no folder alexnet-results" in one_line(_ledger(None, "--scale", scale,
                                                               cwd=tmp_path))
    named = run_alexnet("reproduce", "lrn", "--scale", "test", "--out", str(RESULTS))
    assert "holds the files the package ships" in one_line(named)   # before any training
    assert {p.name: p.read_bytes() for p in RESULTS.iterdir()} == shipped
    _finalised_copy("lrn", results_folder, scale="gpu")             # a GPU ledger keeps CPU rows
    assert _ledger(results_folder, "--scale", "gpu", "--force").returncode == 0
    ledger = (results_folder / "LEDGER.md").read_text()
    assert "## CPU scale" in ledger and "## GPU scale" in ledger and "| 8. depth" in ledger


def test_a_damaged_pilot_file_says_how_to_fix_it(tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    (out / "pilot-test.json").write_text('{"scale": "test", "regimes": {"lrn": {"seeds": 0}}}')
    line = one_line(run_alexnet("reproduce", "lrn", "--scale", "test", "--out", str(out),
                                "--no-progress", "--force"))
    assert "pilot-test.json: field regimes.lrn.seeds is 0" in line
    assert "delete it and run the claims again" in line


# ---------------------------------------------------------------- the run cache

def _identity(**changes) -> dict:
    return {"arm": "lrn/with", "regime": {"epochs": 2}, "seed": 0, "data_sha256": "d" * 64,
            "device": "cpu", **changes}


def test_the_run_cache_key_covers_what_decides_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path))
    base = cache.entry("test", _identity()).path
    for change in ({"seed": 1}, {"data_sha256": "e" * 64}, {"arm": "lrn/without"},
                   {"regime": {"epochs": 3}}, {"device": "cuda"}):
        assert cache.entry("test", _identity(**change)).path != base, change
    assert cache.entry("cpu", _identity()).path != base
    assert "kernels/lrn.py" in cache.modules_imported(cuda=True)
    assert "kernels/lrn.py" not in cache.modules_imported(cuda=False)
    assert {"model.py", "lrn.py", "train.py", "reproduce/runs.py", "reproduce/data.py"} <= \
        set(cache.modules_imported())
    with pytest.raises(ValueError, match="data_sha256"):
        cache.entry("test", {"seed": 0, "device": "cpu"})


def test_a_cache_entry_of_another_run_or_with_bad_numbers_is_retrained(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path))
    mine = cache.entry("test", _identity())
    assert mine.load() is None
    mine.store({"seed": 0, "metrics": {"test_top1": 0.4}})
    assert mine.load() == {"seed": 0, "metrics": {"test_top1": 0.4}}
    stored = torch.load(mine.path, weights_only=True)
    assert set(stored) == {"format", "identity", "record"}          # no weights kept
    other = cache.entry("test", _identity(seed=1))
    shutil.copy(mine.path, other.path)                 # another seed's entry under this key
    assert other.load() is None and not other.path.exists()
    assert "recorded identity differs" in capsys.readouterr().err
    mine.store({"seed": 0, "metrics": {"test_top1": float("nan")}})
    assert mine.load() is None and not mine.path.exists()
    assert "metrics.test_top1" in capsys.readouterr().err
    mine.path.write_bytes(b"not a torch file")
    assert mine.load() is None and not mine.path.exists()
    torch.save({**stored, "format": "alexnet-run-cache-2"}, mine.path)   # an older version
    assert mine.load() is None and not mine.path.exists()


def test_a_full_disk_while_storing_a_run_is_the_disks_error(tmp_path, monkeypatch):
    """The OSError of the disk, named by the entry (the command line prints it in one line)."""
    import errno
    import os

    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path))
    real = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return self.f.__exit__(*args)

    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: Full(real(fd, mode, *a, **k)))
    entry = cache.entry("test", _identity())
    with pytest.raises(OSError, match="No space left on device") as raised:
        entry.store({"seed": 0})
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(entry.path)
    assert not entry.path.exists() and not list(entry.path.parent.glob(".*.tmp"))


def test_a_claim_run_from_python_never_writes_into_the_shipped_results(tmp_path, monkeypatch):
    """Without ``out``, run_claim writes to a folder of the user's; asked to write into the
    package's shipped results, it refuses before any training (no run is attempted)."""
    from alexnet import reproduce
    from alexnet.reproduce import experiment
    from alexnet.reproduce.results import DEFAULT_OUT, RESULTS

    assert experiment.run_claim.__defaults__[1] == DEFAULT_OUT != str(RESULTS)
    monkeypatch.setattr(experiment, "context_for", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(AlexNetError, match="holds the files the package ships"):
        reproduce.run_claim("lrn", scale="test", out=RESULTS)

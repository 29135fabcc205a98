"""The device scripts (bench/device_check.sh, bench/device_claims.sh) can only run for real on a
lent GPU; here they are checked for syntax and run in their CPU dry-run mode (``DRY_RUN=1``), which
takes the same steps on the CPU and must leave ONE archive under $OUT (the device tool returns at
most 8 files of 16 MB each) with a summary.json naming the device, its capability and the commit.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest

from helpers import REPO, subprocess_env

SCRIPTS = ["bench/device_check.sh", "bench/device_claims.sh"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_device_scripts_parse(script):
    subprocess.run(["bash", "-n", script], cwd=REPO, check=True)


def _dry_run(script: str, out, env: dict) -> subprocess.CompletedProcess:
    env = subprocess_env({**env, "DRY_RUN": "1", "OUT": str(out), "PYTHON": sys.executable,
                          "ALEXNET_COMMIT": "dry-run"})
    return subprocess.run(["bash", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_the_first_session_script_dry_run_leaves_one_archive(tmp_path, small_cifar):
    done = _dry_run("bench/device_check.sh", tmp_path / "out", small_cifar)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["device-check.tar.gz"], done.stdout
    archive = tmp_path / "out" / "device-check.tar.gz"
    assert archive.stat().st_size < 16 * 2**20
    with tarfile.open(archive) as tar:
        summary = json.load(tar.extractfile("./summary.json"))
        names = set(tar.getnames())
    assert (summary["device"], summary["capability"], summary["commit"]) == ("cpu", None, "dry-run")
    for step in ("preflight", "cuda-tests", "trainer-paths", "cli-train", "cli-resume",
                 "cli-evaluate"):
        assert summary["steps"][step]["rc"] == 0, (step, done.stdout[-3000:])
    assert summary["paths"]["train_fp32"]["ok"] and summary["paths"]["two_tower_tf32"]["within_1e-5"]
    assert {"./device_paths.json", "./cuda-tests.log", "./cli-resume.log"} <= names


@pytest.mark.slow
def test_the_claims_script_dry_run_returns_its_run_cache(tmp_path, small_cifar):
    done = _dry_run("bench/device_claims.sh", tmp_path / "out", small_cifar)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["alexnet-claims.tar.gz"]
    with tarfile.open(tmp_path / "out" / "alexnet-claims.tar.gz") as tar:
        names = tar.getnames()
    assert any(n.startswith("./cache/reproduce/test/") and n.endswith(".pt") for n in names)
    assert any(n.startswith("./results/") and n.endswith(".json") for n in names)

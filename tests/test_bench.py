"""``alexnet bench`` end to end on the CPU at toy sizes: the JSON has its provenance and numbers."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from alexnet import bench
from alexnet.errors import AlexNetError

ROOT = Path(__file__).resolve().parents[1]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def _positive(entry: dict, *keys: str) -> None:
    for key in keys:
        assert entry[key] > 0, (key, entry)


def test_bench_writes_json_with_provenance_and_numbers(tmp_path, capsys):
    out = tmp_path / "result.json"
    code = bench.run(_args("--device", "cpu", "--batch-size", "2", "--cifar-batch-size", "4",
                           "--warmup", "0", "--rounds", "2", "--lrn-shape", "2,8,6,6",
                           "--baseline", "--contention", "1", "--out", str(out)))
    result = json.loads(out.read_text())
    assert code == 0, result
    for key in ("command", "git_commit", "date", "device", "versions", "settings", "cpu_model",
                "threads", "load_average", "load_average_end"):
        assert result[key], key
    assert isinstance(result["cpu_bf16"], bool) and isinstance(result["freed_memory_kept"], bool)
    assert result["busy_processes"] == 1 and result["settings"]["contention"] == 1
    assert result["settings"]["threads"] == result["threads"] >= 1
    assert result["cpu_caches"]["L2"] > 0 and result["cpu_caches"]["source"]
    assert set(result["versions"]) >= {"torch", "triton", "torchvision"}
    assert result["settings"]["batch_size"] == 2 and result["settings"]["precision"] == "fp32"
    assert result["settings"]["channels_last"] is False         # the CPU default, as training
    _positive(result["matmul"], "flop_per_s")
    for part, members in (("train", ("alexnet", "torchvision", "alexnet_reference_lrn")),
                          ("cifar", ("cifar", "cifar_no_lrn", "cifar_reference_lrn"))):
        for key in members:
            entry = result[part][key]
            _positive(entry, "images_per_s", "median_s", "forward_macs",
                      "arithmetic_floor_images_per_s")
            assert len(entry["rounds_s"]) == entry["n"] == 2      # interleaved rounds
        first = members[0]
        speed = result[part][f"speed_{first}_over_{members[1]}"]
        expected = [b / a for a, b in zip(result[part][first]["rounds_s"],
                                          result[part][members[1]]["rounds_s"])]
        assert speed["min"] == pytest.approx(min(expected))
        assert speed["max"] == pytest.approx(max(expected))
    lrn = result["lrn"]
    assert lrn["shape"] == [2, 8, 6, 6] and lrn["floor_bytes"] == 5 * 2 * 8 * 6 * 6 * 4
    _positive(lrn["floor"], "median_s")
    _positive(lrn, "bandwidth_bytes_per_s")
    for key in ("package", "reference", "torch"):
        _positive(lrn[key], "median_s")
        _positive(lrn[key]["times_floor"], "median", "min", "max")
    assert "skipped" in lrn["fused"] and "skipped" in lrn["compiled_reference"]  # CPU, no compile
    _positive(result["input"]["tensors"], "images_per_s")
    _positive(result["input"]["folder"], "images_per_s", "workers")
    printed = capsys.readouterr().out
    assert "runs at" in printed and "the speed of torchvision.models.alexnet()" in printed
    assert "LRN fwd+bwd" in printed and "JPEG folder" in printed


def test_interleaved_runs_every_function_once_per_round():
    order = []
    timing = bench.interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                               "cpu", warmup=1, rounds=3, calls=2)
    assert order == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert timing["a"]["n"] == 3 and len(timing["b"]["rounds_s"]) == 3


@pytest.mark.parametrize("argv", [["--parts", "train,nonsense"], ["--cuda-graphs"],
                                  ["--lrn-shape", "1,2,3"], ["--batch-size", "0"],
                                  ["--cifar-batch-size", "0"]])
def test_bad_options_explain_themselves(argv):
    with pytest.raises(AlexNetError):
        bench.settings_from(_args("--device", "cpu", *argv))


def test_time_calls_warms_up_then_takes_the_median():
    calls = []
    timing = bench.time_calls(lambda: calls.append(1), "cpu", warmup=2, repeats=3)
    assert len(calls) == 5 and timing["n"] == 3
    assert 0 <= timing["min_s"] <= timing["median_s"] <= timing["max_s"]


def _shipped(name: str) -> dict:
    return json.loads((ROOT / "bench" / "results" / f"{name}.json").read_text())


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def test_readme_speed_table_is_the_shipped_bench():
    """Every ratio in the README's speed table is the committed bench JSON, rounded as printed."""
    readme = (ROOT / "README.md").read_text()
    header = next(line for line in readme.splitlines() if line.startswith("| ratio (CPU:"))
    rows = [_cells(line) for line in readme.splitlines()
            if line.startswith("| `") or line.startswith("| LRN") or line.startswith("| the same")]
    fp32, bf16 = _shipped("cpu-fp32"), _shipped("cpu-bf16")
    for result in (fp32, bf16):
        assert result["dirty"] is False and result["cpu_model"] in header
        assert result["git_commit"][:7] in readme and f"{result['threads']} threads" in readme

    def ratio(r: dict, digits: int = 2) -> str:
        return (f"{r['median']:.{digits}f}× ({r['min']:.{digits}f}–{r['max']:.{digits}f})")

    speed = {"`AlexNet()`": ("train", "speed_alexnet_over_torchvision"),
             "`CifarAlexNet()`": ("cifar", "speed_cifar_over_cifar_no_lrn")}
    checked = 0
    for row in rows:
        key = next((k for k in speed if row[0].startswith(k)), None)
        if key:
            part, name = speed[key]
            assert row[2] == ratio(fp32[part][name]) and row[3] == ratio(bf16[part][name]), row
            checked += 1
    lrn = fp32["lrn"]
    for label, key in (("LRN", "package"), ("the same", "torch")):
        row = next(r for r in rows if r[0].startswith(label))
        f = lrn[key]["times_floor"]
        digits = 1 if key == "package" else 0
        assert row[2] == ratio(f, digits), row
        checked += 1
    assert checked == 4


def test_contention_starts_busy_processes_and_stops_them():
    import os

    with bench.contention(2) as pids:
        assert len(pids) == 2
        for pid in pids:
            os.kill(pid, 0)                                  # alive: no error
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_workers_part_sets_each_worker_count_beside_the_in_memory_step():
    from alexnet.runtime import usable_cpus

    s = bench.settings_from(_args("--device", "cpu", "--batch-size", "2", "--rounds", "1"))
    result = bench.bench_workers(s, steps=1)
    assert set(result["workers"]) == {str(w) for w in range(usable_cpus() + 1)}
    for row in result["workers"].values():
        _positive(row, "step_s", "in_memory_step_s", "workers_cpu_share")
        _positive(row["slowdown"], "median")
    assert result["decode_cpu_s_per_image"] > 0

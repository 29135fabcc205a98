"""``alexnet bench`` end to end on the CPU at toy sizes: the JSON has its provenance and numbers."""
from __future__ import annotations

import argparse
import json

import pytest

from alexnet import bench
from alexnet.errors import AlexNetError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def _positive(entry: dict, *keys: str) -> None:
    for key in keys:
        assert entry[key] > 0, (key, entry)


def test_bench_writes_json_with_provenance_and_numbers(tmp_path, capsys):
    out = tmp_path / "result.json"
    code = bench.run(_args("--device", "cpu", "--batch-size", "2", "--warmup", "0",
                           "--repeats", "1", "--lrn-shape", "2,8,6,6", "--out", str(out)))
    result = json.loads(out.read_text())
    assert code == 0, result
    for key in ("command", "commit", "date", "device", "versions", "settings"):
        assert result[key], key
    assert set(result["versions"]) >= {"torch", "triton", "torchvision"}
    assert result["settings"]["batch_size"] == 2 and result["settings"]["precision"] == "fp32"
    _positive(result["copy_bandwidth"], "bytes_per_s")
    _positive(result["matmul"], "flop_per_s")
    train = result["train"]
    for key in ("alexnet", "torchvision"):
        _positive(train[key], "images_per_s", "median_s", "forward_macs",
                  "arithmetic_floor_images_per_s")
    assert train["ratio"] == pytest.approx(
        train["alexnet"]["images_per_s"] / train["torchvision"]["images_per_s"])
    lrn = result["lrn"]
    assert lrn["shape"] == [2, 8, 6, 6] and lrn["floor_bytes"] == 5 * 2 * 8 * 6 * 6 * 4
    _positive(lrn["reference"], "median_s", "times_floor")
    _positive(lrn["torch"], "median_s", "times_floor")
    assert "skipped" in lrn["fused"] and "skipped" in lrn["compiled_reference"]  # CPU, no compile
    _positive(result["input"], "images_per_s")
    printed = capsys.readouterr().out
    assert "ratio alexnet / torchvision" in printed and "LRN fwd+bwd" in printed


@pytest.mark.parametrize("argv", [["--parts", "train,nonsense"], ["--cuda-graphs"],
                                  ["--lrn-shape", "1,2,3"], ["--batch-size", "0"]])
def test_bad_options_explain_themselves(argv):
    with pytest.raises(AlexNetError):
        bench.settings_from(_args("--device", "cpu", *argv))


def test_time_calls_warms_up_then_takes_the_median():
    calls = []
    timing = bench.time_calls(lambda: calls.append(1), "cpu", warmup=2, repeats=3)
    assert len(calls) == 5 and timing["n"] == 3
    assert 0 <= timing["min_s"] <= timing["median_s"] <= timing["max_s"]

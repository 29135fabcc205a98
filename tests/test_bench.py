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
    for key in ("package", "reference", "torch", "package_contended", "torch_contended"):
        _positive(lrn[key], "median_s")
        _positive(lrn[key]["times_floor"], "median", "min", "max")
    for key in ("package_speed_over_torch", "package_speed_over_torch_contended",
                "package_contended_over_quiet", "torch_contended_over_quiet"):
        _positive(lrn[key], "median", "min", "max")
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


#: The README's speed table: CPU column -> (fp32 JSON, bf16 JSON or None, contention JSON or None)
SHIPPED = {"AMD EPYC": ("cpu-amd-epyc-fp32", "cpu-amd-epyc-bf16", None),
           "Intel Xeon": ("cpu-intel-xeon-fp32", None, "cpu-intel-xeon-fp32-contention1")}


def _shipped(name: str | None) -> dict | None:
    if name is None:
        return None
    return json.loads((ROOT / "bench" / "results" / f"{name}.json").read_text())


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _ratio(r: dict, digits: int = 2) -> str:
    return f"{r['median']:.{digits}f}× ({r['min']:.{digits}f}–{r['max']:.{digits}f})"


#: Row label (its start) -> (which file, where in it, digits printed)
ROWS = {"`AlexNet()`": ("main", ("train", "speed_alexnet_over_torchvision"), 2),
        "`CifarAlexNet()`": ("main", ("cifar", "speed_cifar_over_cifar_no_lrn"), 2),
        "LRN forward + backward": ("main", ("lrn", "package", "times_floor"), 1),
        "the same, `torch.nn": ("main", ("lrn", "torch", "times_floor"), 0),
        "LRN with one busy process": ("busy", ("lrn", "package_contended_over_quiet"), 2),
        "`torch.nn.LocalResponseNorm` with one busy": ("busy", ("lrn", "torch_contended_over_quiet"),
                                                        2)}


def _at(result: dict, path: tuple) -> dict:
    for key in path:
        result = result[key]
    return result


def test_readme_speed_table_is_the_shipped_bench():
    """Every ratio in the README's speed table is the committed bench JSON of the CPU its row
    names, rounded as printed; each JSON's CPU, commit and threads are the README's."""
    readme = (ROOT / "README.md").read_text()
    rows = [_cells(line) for line in readme.splitlines()
            if line.startswith("| `") or line.startswith("| LRN") or line.startswith("| the same")]
    checked = 0
    for cpu, (fp32_name, bf16_name, busy_name) in SHIPPED.items():
        fp32, bf16, busy = _shipped(fp32_name), _shipped(bf16_name), _shipped(busy_name)
        for result in filter(None, (fp32, bf16, busy)):
            # the code that ran is the commit (a results file written just before may differ)
            assert result["dirty"] is not None and result["uncommitted_package_files"] == []
            assert cpu.split() == [w for w in result["cpu_model"].replace("(R)", "").split()][:2]
            assert result["git_commit"][:7] in readme and f"{result['threads']} threads" in readme
        for row in (r for r in rows if r[1] == cpu):
            label = next(k for k in ROWS if row[0].startswith(k))
            which, path, digits = ROWS[label]
            main = fp32 if which == "main" else busy
            assert row[3] == _ratio(_at(main, path), digits), row
            if which == "main" and path[0] != "lrn":
                assert row[4] == (_ratio(_at(bf16, path)) if bf16 else "—"), row
            checked += 1
    assert checked == 10


def test_lrn_part_in_bf16_on_the_cpu_skips_the_stock_lrn():
    """torch.nn.LocalResponseNorm has no bfloat16 CPU kernel: skipped with the reason, not an error."""
    s = bench.settings_from(_args("--device", "cpu", "--precision", "bf16", "--warmup", "0",
                                  "--rounds", "1", "--lrn-shape", "2,8,6,6"))
    with bench.contention(1) as busy:
        result = bench.bench_lrn(s, busy)
    assert "bfloat16" in result["dtype"] and "no bf16 kernel" in result["torch"]["skipped"]
    _positive(result["package"], "median_s")
    assert "package_contended" not in result and "package_speed_over_torch" not in result

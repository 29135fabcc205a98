"""The claims' statistics and verdicts on synthetic numbers, the ledger, and claims run end to end
on real CIFAR-10 at the tiny test-only scale (through the API and through the command line)."""
import argparse
import json
import math
from dataclasses import asdict

import pytest
import torch
from conftest_data import offline, session_cache  # noqa: F401

from alexnet import CifarAlexNet, reproduce
from alexnet.errors import AlexNetError
from alexnet.reproduce import (comparison, epochs_to, ledger_markdown, ledger_rows, summarise,
                               t_quantile, verdict, without_conv)


# ---------------------------------------------------------------- statistics and verdicts

@pytest.mark.parametrize("df,expected", [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262),
                                         (30, 2.042)])
def test_t_quantiles_match_the_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)


def test_summary_of_known_differences():
    s = summarise([1.0, 2.0, 3.0])
    assert (s["n"], s["mean"], s["sd"]) == (3, 2.0, 1.0)
    assert s["se"] == pytest.approx(1 / math.sqrt(3))
    assert s["low"] == pytest.approx(2 - 4.303 / math.sqrt(3), abs=1e-3)


@pytest.mark.parametrize("values,expected", [
    ([1.9, 2.1, 2.0, 2.2], "reproduced"),          # consistent effect in the paper's direction
    ([-1.9, -2.1, -2.0], "not reproduced"),        # consistent effect the other way
    ([0.5, -0.4, 0.3, -0.2], "within noise"),      # smaller than the seed-to-seed spread
    ([3.0, -2.5, 2.8], "within noise"),            # large mean, larger spread
    ([5.0], "within noise"),                       # one seed: no interval
    ([], "not measured"),
])
def test_verdicts(values, expected):
    assert verdict(summarise(values)) == expected


def test_a_comparison_skips_seeds_without_a_value():
    test = comparison("x", [1.0, None, 1.2, 1.1], "pp", "paper", "meaning",
                      ("error", {"a": [0.5, 0.4, 0.3, 0.2], "b": [0.6, None, 0.5, 0.4]}))
    assert test["summary"]["n"] == 3 and test["verdict"] == "reproduced"
    assert test["arms"]["means"]["b"] == pytest.approx(0.5)


def test_epochs_to_a_target_are_interpolated():
    curve = [{"epoch": 1, "e": 0.8}, {"epoch": 2, "e": 0.6}, {"epoch": 3, "e": 0.2}]
    assert epochs_to(curve, "e", 0.25) == pytest.approx(2 + 0.35 / 0.4)
    assert epochs_to(curve, "e", 0.85) == pytest.approx(0.5)       # from chance (0.9) at epoch 0
    assert epochs_to(curve, "e", 0.1) is None


def test_without_conv4_keeps_a_working_network():
    model = without_conv(CifarAlexNet())
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4 and model.config["removed"] == "conv4"
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(AlexNetError, match="conv4 .* would see conv2"):
        without_conv(CifarAlexNet(), "conv3")


def test_the_ledger_marks_missing_gpu_results(tmp_path):
    rows = ledger_rows(tmp_path)
    assert len(rows) == 2 * len(reproduce.CLAIMS)
    gpu = [r for r in rows if r["scale"] == "gpu"]
    assert all(r["measurements"] == [reproduce.MISSING["gpu"]] for r in gpu)
    assert "needs a CUDA GPU" in reproduce.MISSING["gpu"]
    assert "| 9. neighbours" in ledger_markdown(rows)


# ---------------------------------------------------------------- end to end, real CIFAR-10

def test_a_claim_end_to_end_writes_its_result_and_ledger_row(offline, tmp_path):
    result = reproduce.run_claim("lrn", scale="test", seeds=2, out=tmp_path)
    saved = reproduce.load_result(tmp_path / "lrn-test.json")
    assert saved == json.loads(json.dumps(result))
    p = saved["provenance"]
    assert {"command", "git_commit", "dirty", "source_sha256", "device", "versions", "date",
            "wall_seconds"} <= set(p)
    assert p["versions"]["torch"] == torch.__version__ and p["wall_seconds"] > 0
    assert "CIFAR-10, the paper's own data set" in saved["setting"]
    assert saved["scale_config"]["train_images"] == reproduce.SCALES["test"].train_images
    assert len(saved["runs"]) == 4 and all(r["curve"] for r in saved["runs"])
    test = saved["tests"][0]
    assert len(test["differences"]) == 2 and test["verdict"] in reproduce.VERDICTS
    row = [r for r in ledger_rows(tmp_path, scales=("test",)) if r["claim"] == "2. lrn"][0]
    assert row["verdicts"] == [t["verdict"] for t in saved["tests"]]
    assert "n=2" in row["measurements"][0]
    assert (tmp_path / "LEDGER.md").exists()


def test_figure1_speed_up_end_to_end(offline):
    result = reproduce.run_claim("relu", scale="test", seeds=2)
    test = result["tests"][0]
    assert set(result["extra"]["learning_rates"]) == {"relu", "tanh"}
    assert result["extra"]["rate_at_grid_edge"] == {"relu": True, "tanh": True}   # a 1-rate grid
    assert len(result["runs"]) == 4 and test["unit"] == "log"
    assert "lower_bound" in test


def test_the_command_line_runs_claims_and_the_ledger(offline, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    reproduce.add_arguments(parser)
    args = parser.parse_args(["neighbours", "depth", "--scale", "test", "--seeds", "2", "--out",
                              str(tmp_path), "--no-progress"])
    assert reproduce.run(args) == 0
    saved = reproduce.load_result(tmp_path / "neighbours-test.json")
    assert saved["provenance"]["command"] == (
        f"python -m alexnet reproduce neighbours depth --scale test --seeds 2 --out {tmp_path}")
    example = saved["extra"]["neighbours"][0]["examples"][0]
    assert len(example["by_features"]) == len(example["by_pixels"]) == 6
    depth = reproduce.load_result(tmp_path / "depth-test.json")   # shares the baseline runs
    assert depth["runs"][:2] == saved["runs"]
    assert reproduce.run(parser.parse_args(["ledger", "--out", str(tmp_path)])) == 0
    assert "LEDGER.md" in capsys.readouterr().out
    with pytest.raises(AlexNetError, match="on its own"):
        reproduce.run(parser.parse_args(["ledger", "lrn", "--out", str(tmp_path)]))


def test_unknown_claims_and_a_gpu_scale_without_a_gpu_are_refused():
    with pytest.raises(AlexNetError, match="unknown claim"):
        reproduce.run_claim("bogus")
    if not torch.cuda.is_available():
        with pytest.raises(AlexNetError, match="needs a CUDA device"):
            reproduce.run_claim("lrn", scale="gpu")


# ---------------------------------------------------------------- the results the package ships

@pytest.mark.parametrize("claim", list(reproduce.CLAIMS))
def test_every_claim_ships_a_cpu_result_made_by_the_current_settings(claim):
    result = reproduce.committed_result(claim)
    assert result["claim"] == claim and result["scale"] == "cpu"
    # the stored result must be what the CPU scale of this code would run, or rerun it (the
    # Figure 1 settings, relu_*, concern the relu claim only)
    current = json.loads(json.dumps(asdict(reproduce.SCALES["cpu"])))
    ours = (lambda key: key.startswith("relu_") or key == "batch_size") if claim == "relu" else \
        (lambda key: not key.startswith("relu_"))
    assert {k: v for k, v in result["scale_config"].items() if ours(k)} == \
        {k: v for k, v in current.items() if ours(k)}
    assert result["provenance"]["git_commit"] and result["provenance"]["device"]
    assert all(t["verdict"] in (*reproduce.VERDICTS, "not measured") for t in result["tests"])


def test_chapter_result_prints_what_it_read(capsys):
    result = reproduce.chapter_result("overlap")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == result["setting"] and out[1] == f"device: {result['provenance']['device']}"
    assert out[2:] == [f"{reproduce.describe(t)} -> {t['verdict']}" for t in result["tests"]]
    if not torch.cuda.is_available():
        with pytest.raises(AlexNetError, match="needs a CUDA device"):
            reproduce.chapter_result("overlap", full_size=True)

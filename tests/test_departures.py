"""The machine-readable list of the package's departures from the paper (alexnet.departures): each
decision is there, each entry reads as prose with the paper's section, and each setting is read
from the code, so it changes when the code does."""
import dataclasses

import pytest

import alexnet.model
import alexnet.train
from alexnet.departures import as_markdown, departures

NAMES = ["Initialisation", "Dropout at test time", "Mean subtraction", "Weight decay on biases",
         "When the learning rate drops", "224 inputs and conv1", "LRN across the two GPUs",
         "LRN's α", "PCA colour noise"]


def test_every_decision_is_listed_with_the_papers_section_and_a_reason():
    rows = departures()
    assert [r["name"] for r in rows] == NAMES
    for row in rows:
        assert set(row) == {"name", "paper", "ours", "why", "setting"}
        assert "§" in row["paper"], row["name"]
        for key in ("paper", "ours", "why"):
            text = row[key]
            assert not text[0].islower() and text[-1] in ".\"", (row["name"], key)
        assert "paper-notes" not in " ".join(row.values())


def test_the_settings_are_the_codes_own_values():
    rows = {r["name"]: r["setting"] for r in departures()}
    assert rows["Dropout at test time"] == "dropout=0.5, dropout_style='paper'"
    assert rows["Weight decay on biases"] == "weights: weight_decay=0.0005, biases: weight_decay=0"
    assert rows["When the learning rate drops"] == (
        "schedule='plateau', patience=3, lr_factor=0.1, max_lr_drops=3")
    assert rows["224 inputs and conv1"] == (
        "image_size=224, conv1 zero pad (left, right, top, bottom)=(0, 3, 0, 3)")
    assert rows["LRN across the two GPUs"] == "LocalResponseNorm groups=[2] in AlexNet (groups=2)"
    assert rows["LRN's α"] == "size=5, alpha=0.0001, beta=0.75, k=2.0"
    assert rows["Initialisation"].startswith("models: init='paper'")


def test_a_setting_follows_the_code(monkeypatch):
    fields = {f.name: f for f in dataclasses.fields(alexnet.train.TrainConfig)}
    monkeypatch.setattr(fields["patience"], "default", 7)
    monkeypatch.setattr(alexnet.model.AlexNet, "image_size", 227)
    rows = {r["name"]: r["setting"] for r in departures()}
    assert "patience=7" in rows["When the learning rate drops"]
    assert rows["224 inputs and conv1"].startswith("image_size=227")


@pytest.mark.parametrize("row", NAMES)
def test_the_markdown_table_has_a_row_per_departure(row):
    table = as_markdown()
    assert f"| **{row}** |" in table
    assert table.count("\n") == len(NAMES) + 1

"""Weights the torchvision way (alexnet.weights, alexnet export-weights, alexnet predict).

The CIFAR-10 weights are packaged here from a small checkpoint (a CifarAlexNet with its initial
weights) into a temporary folder that stands for the package's ``pretrained/`` folder, scored on
the 10,000 CIFAR-10 test images (the offline data set), then loaded through the enum.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import with_offline_env
from helpers import offline_folder
import torch
from PIL import Image

from alexnet import AlexNetError, CifarAlexNet, CifarAlexNet_Weights, FourLayerCNN, weights
from alexnet.checkpoint import save_checkpoint
from alexnet.cli import main
from alexnet.data import CIFAR10_CLASSES
from alexnet.export import export_weights
from alexnet.weights import AlexNet_Weights, BVLC_MEAN_RGB, find_weights, table

README = Path(__file__).resolve().parents[1] / "README.md"


HISTORY_ROW = {"epoch": 1, "lr": 0.01, "train_top1": 0.9, "val_top1": 0.88, "seconds": 5.0}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory, cifar_test, session_cache):  # noqa: F811
    """(folder, checkpoint, model): cifar10_v1 packaged from a fresh CifarAlexNet's checkpoint."""
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    model = CifarAlexNet(init="pytorch")
    checkpoint = save_checkpoint({"model": model.state_dict(), "model_config": model.config,
                                  "classes": CIFAR10_CLASSES, "epoch": 0,
                                  "history": [HISTORY_ROW]}, root / "last.pt")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALEXNET_DATA", str(offline_folder()))
        mp.setenv("ALEXNET_CACHE", str(session_cache))
        export_weights(checkpoint, "cifar10_v1", out=root / "pretrained")
    return root / "pretrained", checkpoint, model


@pytest.fixture
def shipped(packaged, monkeypatch):
    monkeypatch.setattr(weights, "PRETRAINED", packaged[0])
    return packaged


def test_packaged_weights_load_through_the_enum(shipped):
    folder, _, trained = shipped
    loaded = CifarAlexNet(weights="cifar10")
    same = CifarAlexNet(weights=CifarAlexNet_Weights.CIFAR10_V1)
    for name, tensor in trained.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
        assert torch.equal(same.state_dict()[name], tensor)
    assert loaded.weights is CifarAlexNet_Weights.CIFAR10_V1 is CifarAlexNet_Weights.DEFAULT


def test_the_meta_is_a_model_card(shipped):
    folder, checkpoint, trained = shipped
    meta = CifarAlexNet_Weights.CIFAR10_V1.meta
    file = folder / "cifar10_v1.safetensors"
    assert meta["available"] and meta["categories"] == CIFAR10_CLASSES
    assert meta["test"]["images"] == 10_000 and meta["test"]["data"] == "cifar10"
    # a network at its initial weights is about as good as chance on ten classes
    assert 0.8 < meta["test"]["top1_error"] < 0.95 and meta["test"]["top5_error"] < 0.6
    assert meta["sha256"] == weights.file_digest(file) and meta["file_size"] == file.stat().st_size
    assert meta["num_params"] == sum(p.numel() for p in trained.parameters())
    assert meta["model_config"] == trained.config and meta["epochs"] == 0
    assert meta["checkpoint"]["sha256"] == weights.file_digest(checkpoint)
    assert set(meta["provenance"]) >= {"git_commit", "dirty", "cpu_model", "device", "date"}
    assert meta["licence"] == "MIT"
    # the learning curve, without its wall-clock seconds (they describe the machine, not the run)
    assert meta["curve"] == [{k: v for k, v in HISTORY_ROW.items() if k != "seconds"}]


def test_the_shipped_card_holds_its_learning_curve():
    meta = CifarAlexNet_Weights.CIFAR10_V1.meta
    assert [row["epoch"] for row in meta["curve"]] == list(range(1, meta["epochs"] + 1))
    assert meta["curve"][-1]["val_top1"] == meta["last_epoch"]["val_top1"]


def test_a_tampered_file_is_refused_in_one_line(shipped, tmp_path, monkeypatch):
    folder = tmp_path / "pretrained"
    folder.mkdir()
    for file in shipped[0].iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    data = bytearray((folder / "cifar10_v1.safetensors").read_bytes())
    data[-1] ^= 1
    (folder / "cifar10_v1.safetensors").write_bytes(bytes(data))
    monkeypatch.setattr(weights, "PRETRAINED", folder)
    with pytest.raises(AlexNetError, match="SHA-256") as error:
        CifarAlexNet(weights="cifar10")
    assert "\n" not in str(error.value)


def test_missing_weights_say_how_to_make_them(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "PRETRAINED", tmp_path)
    with pytest.raises(AlexNetError, match="not in this installation.*alexnet export-weights"):
        CifarAlexNet(weights="cifar10")
    assert "CifarAlexNet_Weights" not in table()       # only weights that are there are listed


def test_transforms_take_a_pil_image(shipped):
    mean = weights.load_safetensors(shipped[0] / "cifar10_v1.safetensors")[weights.MEAN_KEY]
    image = Image.new("RGB", (50, 40), (10, 200, 30))
    x = CifarAlexNet_Weights.CIFAR10_V1.transforms()(image)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    colour = torch.tensor([10.0, 200.0, 30.0]).view(3, 1, 1)
    assert torch.allclose(x, colour - mean)                 # 0-255 scale minus §2's mean image
    assert mean.shape == (3, 32, 32)


def test_bvlc_transforms_are_caffes_input():
    x = AlexNet_Weights.BVLC.transforms()(Image.new("RGB", (300, 200), (10, 200, 30)))
    assert x.shape == (3, 227, 227)
    expected = torch.tensor([10.0, 200.0, 30.0]) - torch.tensor(BVLC_MEAN_RGB)
    assert torch.allclose(x, expected.view(3, 1, 1).expand_as(x))
    meta = AlexNet_Weights.BVLC.meta
    assert meta["metrics"] == {"top1_accuracy": 57.1, "top5_accuracy": 80.2}
    assert len(meta["categories"]) == 1000 and meta["licence"] == "unrestricted use"


def test_names_resolve_like_torchvision():
    assert find_weights("cifar10") is CifarAlexNet_Weights.CIFAR10_V1
    assert find_weights("AlexNet_Weights.BVLC") is AlexNet_Weights.BVLC is find_weights("bvlc")
    with pytest.raises(AlexNetError, match="'bvlc'"):
        find_weights("resnet")


def test_export_weights_refuses_to_overwrite(packaged, capsys):
    folder, checkpoint, _ = packaged
    before = (folder / "cifar10_v1.json").read_bytes()
    code = main(["export-weights", str(checkpoint), "--name", "cifar10_v1", "--out", str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and "already exists: pass --force" in err and err.count("\n") == 1
    assert (folder / "cifar10_v1.json").read_bytes() == before


def test_predict_prints_the_top_classes(shipped, tmp_path, capsys):
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)).save(image)
    assert main(["predict", str(image), "--weights", "cifar10", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(image) and len(lines) == 4
    ranked = [re.fullmatch(r"\s+(\d+\.\d)%  (\w+)", line).groups() for line in lines[1:]]
    assert all(name in CIFAR10_CLASSES for _, name in ranked)
    assert [float(p) for p, _ in ranked] == sorted((float(p) for p, _ in ranked), reverse=True)


@pytest.mark.parametrize("make", [lambda: CifarAlexNet(init="pytorch"), lambda: FourLayerCNN()])
def test_save_and_from_pretrained_round_trip(tmp_path, make):
    model = make()
    model.save_pretrained(tmp_path / "saved")
    loaded = type(model).from_pretrained(tmp_path / "saved")
    state, again = model.state_dict(), loaded.state_dict()
    assert state.keys() == again.keys() and all(torch.equal(state[k], again[k]) for k in state)
    assert loaded.config == model.config
    card = (tmp_path / "saved" / "README.md").read_text()
    assert card.startswith(f"# {type(model).__name__}")
    assert f"**parameters**: {sum(p.numel() for p in model.parameters())}" in card
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["model_config"] == model.config


def test_from_pretrained_refuses_another_model(tmp_path):
    CifarAlexNet(init="pytorch").save_pretrained(tmp_path)
    with pytest.raises(AlexNetError, match="holds a CifarAlexNet"):
        FourLayerCNN.from_pretrained(tmp_path)
    with pytest.raises(AlexNetError, match="no config.json"):
        CifarAlexNet.from_pretrained(tmp_path / "absent")


def test_readme_table_is_generated_from_the_meta():
    """README's "Pretrained weights" table is :func:`alexnet.weights.table`, word for word, for
    the weights this checkout ships (regenerate: python -c "import alexnet.weights as w;
    print(w.table())")."""
    text = README.read_text()
    block = text.split("<!-- weights-table -->")[1].split("<!-- /weights-table -->")[0].strip()
    assert block == table()


def test_the_shipped_cifar10_weights_score_their_stated_error(cifar_train, cifar_test,
                                                              session_cache):
    """CifarAlexNet(weights="cifar10") on all 10,000 test images gives the error its card states
    (measured by `alexnet export-weights`); another CPU may flip a few images' argmax in float32,
    so up to 10 of 10,000 may differ."""
    from alexnet.data import build_test_loader
    from alexnet.train import TrainConfig, Trainer

    model = CifarAlexNet(weights="cifar10")   # shipped: alexnet/pretrained/cifar10_v1.*
    loader = with_offline_env(session_cache, lambda: build_test_loader("cifar10", 500, workers=0))
    got = Trainer(model, TrainConfig(progress=False), "cpu").evaluate(loader)
    stated = CifarAlexNet_Weights.CIFAR10_V1.meta["test"]
    assert len(loader.data) == stated["images"] == 10_000
    assert abs(got["val_top1"] - stated["top1_error"]) <= 10 / 10_000
    assert abs(got["val_top5"] - stated["top5_error"]) <= 10 / 10_000

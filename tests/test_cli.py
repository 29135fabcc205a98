"""The command line end to end: ``--help`` everywhere, ``train`` on a tiny image folder and on
CIFAR-10, ``evaluate`` of what it wrote (centre crop and §4.1's ten crops), ``pack`` (§2), and the
``alexnet`` console script."""
import re
import shutil
import subprocess
from importlib.metadata import entry_points

import pytest
import torch
from helpers import tiny_folder

from alexnet.checkpoint import load_checkpoint
from alexnet.cli import build_parser, main
from alexnet.data import load_packed

FAST = ["--device", "cpu", "--no-progress", "--workers", "0"]
PERCENT = r"(\d+\.\d\d)%"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def subcommands() -> list[str]:
    parser = build_parser()
    return list(next(a for a in parser._actions if a.dest == "command").choices)


def test_help_for_the_program_and_every_subcommand(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and out.startswith("usage: alexnet")
    assert {"train", "evaluate", "pack"} <= set(subcommands())
    for command in subcommands():
        code, out, err = run(capsys, command, "--help")
        assert code == 0, err
        assert out.startswith(f"usage: alexnet {command}") and "--help" in out


def test_train_help_names_the_papers_options(capsys):
    _, out, _ = run(capsys, "train", "--help")
    for option in ("--data", "--epochs", "--batch-size", "--checkpoint-dir", "--resume", "--seed",
                   "--device", "--no-lrn", "--no-overlap", "--dropout", "--groups", "--arch",
                   "--dropout-style", "--schedule", "--milestones", "--patience", "--lr-factor"):
        assert option in out
    _, out, _ = run(capsys, "pack", "--help")
    assert "--force" in out


def _metrics(line: str, pattern: str) -> tuple[float, ...]:
    match = re.fullmatch(pattern, line)
    assert match, line
    return tuple(float(x) for x in match.groups())


TRAINED = rf"epoch (\d+): train loss (\d+\.\d+), val top-1 error {PERCENT}, top-5 error {PERCENT}"
#: CIFAR-10 also reports its test images, scored once after training.
TESTED = TRAINED + rf", test top-1 error {PERCENT}, top-5 error {PERCENT}"


def evaluated(checkpoint, data, crops: str) -> str:
    return (rf"{re.escape(str(checkpoint))} on {re.escape(str(data))} \({crops}\): top-1 error "
            rf"{PERCENT}, top-5 error {PERCENT}, loss (\d+\.\d+)")


def test_train_and_evaluate_on_a_tiny_image_folder(tmp_path, capsys):
    """AlexNet itself (224 crops of 256 images, §2, §4.1) for one epoch on 2 classes x 2 images."""
    root, run_dir = tiny_folder(tmp_path / "images", per_class=2), tmp_path / "run"
    code, out, err = run(capsys, "train", "--data", str(root), "--arch", "alexnet", "--epochs", "1",
                         "--batch-size", "2", "--checkpoint-dir", str(run_dir), *FAST)
    assert code == 0 and err == "", err
    epoch, _, top1, top5 = _metrics(out.strip(), TRAINED)
    assert epoch == 1 and top5 == 0.0                        # 2 classes: always in the top 5
    checkpoint = run_dir / "last.pt"
    state = load_checkpoint(checkpoint)
    assert state["epoch"] == 1 and state["model_config"]["arch"] == "AlexNet"
    assert state["model_config"]["num_classes"] == 2
    for crops, flag in [("centre crop", []), ("ten-crop", ["--ten-crop"])]:
        code, out, err = run(capsys, "evaluate", "--checkpoint", str(checkpoint), "--data",
                             str(root), *flag, *FAST)
        assert code == 0, err
        metrics = _metrics(out.strip(), evaluated(checkpoint, root, crops))
        if not flag:                      # evaluate scores CIFAR-10's test images
            assert metrics[:2] == (top1, top5)               # the training run's own validation
    checkpoint.unlink()                                      # 490 MB with its momentum


def test_train_and_evaluate_on_cifar10(cifar_env, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--data", "cifar10", "--arch", "four-layer",
                         "--train-subset", "128", "--epochs", "2", "--batch-size", "64",
                         "--checkpoint-dir", str(run_dir), *FAST)
    assert code == 0 and err == "", err
    epoch, _, _, _, top1, top5 = _metrics(out.strip(), TESTED)
    assert epoch == 2
    state = load_checkpoint(run_dir / "last.pt")
    assert state["model_config"]["arch"] == "FourLayerCNN"
    assert [row["epoch"] for row in state["history"]] == [1, 2]
    for crops, flag in [("centre crop", []), ("ten-crop", ["--ten-crop"])]:
        code, out, err = run(capsys, "evaluate", "--checkpoint", str(run_dir / "last.pt"),
                             "--data", "cifar10", *flag, *FAST)
        assert code == 0, err
        metrics = _metrics(out.strip(), evaluated(run_dir / "last.pt", "cifar10", crops))
        if not flag:                      # evaluate scores CIFAR-10's test images
            assert metrics[:2] == (top1, top5)


def test_train_with_inverted_dropout_and_evaluate_rebuilds_it(cifar_env, tmp_path, capsys):
    """--dropout-style is stored in the checkpoint's model config, so evaluate rebuilds the model
    it was trained with (nn.Dropout here, §4.2's PaperDropout by default)."""
    code, _, err = run(capsys, "train", "--data", "cifar10", "--arch", "cifar", "--train-subset",
                       "64", "--batch-size", "64", "--epochs", "1", "--dropout-style", "inverted",
                       "--checkpoint-dir", str(tmp_path), *FAST)
    assert code == 0, err
    assert load_checkpoint(tmp_path / "last.pt")["model_config"]["dropout_style"] == "inverted"
    code, out, err = run(capsys, "evaluate", "--checkpoint", str(tmp_path / "last.pt"), "--data",
                         "cifar10", *FAST)
    assert code == 0 and out.startswith(f"{tmp_path / 'last.pt'} on cifar10"), err


def test_pack_a_folder(tmp_path, capsys):
    root = tiny_folder(tmp_path / "images")
    code, _, err = run(capsys, "pack", str(root / "train"), str(tmp_path / "train.pt"),
                       "--size", "64")
    assert code == 0, err
    packed = load_packed(tmp_path / "train.pt")
    assert packed.images.shape == (6, 3, 64, 64) and packed.images.dtype == torch.uint8
    assert packed.classes == ["cat", "dog"] and packed.targets.tolist() == [0, 0, 0, 1, 1, 1]


def test_the_console_script():
    (script,) = entry_points(group="console_scripts", name="alexnet")
    assert script.value == "alexnet.cli:main"
    if shutil.which("alexnet") is None:
        pytest.skip("the package is not installed (pip install -e .), so there is no `alexnet`")
    done = subprocess.run(["alexnet", "pack", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: alexnet pack")


def test_training_on_cifar10_reads_the_test_images_only_after_the_last_epoch(cifar_env, tmp_path,
                                                                              capsys, monkeypatch):
    """Every decision (here the plateau schedule) reads the held-out training images; CIFAR-10's
    test images are loaded and read once, after fit has returned."""
    import alexnet.loaders
    from alexnet.train import Trainer

    events, test_images, real_cifar10 = [], set(), alexnet.loaders.cifar10
    real_fit, real_iter = Trainer.fit, alexnet.loaders.BatchLoader.__iter__

    def cifar10(train=True):
        images = real_cifar10(train=train)
        if not train:
            events.append("test loaded")
            test_images.add(images.images.data_ptr())
        return images

    def fit(self, *args, **kwargs):
        events.append("fit starts")
        try:
            return real_fit(self, *args, **kwargs)
        finally:
            events.append("fit ends")

    def iterate(self):
        if self.data.images.data_ptr() in test_images:
            events.append("test read")
        elif self.split is not None and not self.shuffle:
            events.append("val read")
        return real_iter(self)

    monkeypatch.setattr(alexnet.loaders, "cifar10", cifar10)
    monkeypatch.setattr(Trainer, "fit", fit)
    monkeypatch.setattr(alexnet.loaders.BatchLoader, "__iter__", iterate)
    run_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--data", "cifar10", "--arch", "four-layer",
                         "--train-subset", "64", "--batch-size", "64", "--epochs", "3",
                         "--checkpoint-dir", str(run_dir), *FAST)
    assert code == 0, err
    assert events == ["fit starts", "val read", "val read", "val read", "fit ends", "test loaded",
                      "test read"]
    history = load_checkpoint(run_dir / "last.pt")["history"]
    assert all("val_top1" in row for row in history)
    assert ["test_top1" in row for row in history] == [False, False, True]


def test_the_validation_split_is_recorded_and_kept_on_resume(cifar_env, tmp_path, capsys):
    """--val-images and --val-seed choose the held-out images (here of 1,024 training images);
    the checkpoint records them and --resume refuses another split in one line."""
    run_dir = tmp_path / "run"
    base = ["train", "--data", "cifar10", "--arch", "four-layer", "--train-subset", "64",
            "--batch-size", "64", "--val-seed", "3", "--checkpoint-dir", str(run_dir), *FAST]
    args = [*base, "--val-images", "100"]
    assert run(capsys, *args, "--epochs", "1")[0] == 0
    split = {"held_out": 100, "of": 1024, "seed": 3}
    assert load_checkpoint(run_dir / "last.pt")["split"] == split
    assert run(capsys, *args, "--epochs", "2", "--resume")[0] == 0
    state = load_checkpoint(run_dir / "last.pt")
    assert state["split"] == split and [row["epoch"] for row in state["history"]] == [1, 2]
    code, _, err = run(capsys, *base, "--val-images", "50", "--epochs", "3", "--resume")
    assert code == 1
    assert err == (f"alexnet train: error: checkpoint {run_dir / 'last.pt'} was trained with "
                   f"validation split {split} but this run has {dict(split, held_out=50)}: resume "
                   "with the same --val-images and --val-seed, or use another --checkpoint-dir\n")


def test_the_validation_split_holds_out_each_class_equally_and_follows_its_seed():
    from alexnet.data import validation_split

    targets = torch.arange(10).repeat_interleave(100)
    kept, held, record = validation_split(targets, 50, seed=1)
    assert torch.bincount(targets[held]).tolist() == [5] * 10
    assert len(kept) == 950 and not set(kept.tolist()) & set(held.tolist())
    assert record == {"held_out": 50, "of": 1000, "seed": 1}
    assert torch.equal(validation_split(targets, 50, seed=1)[1], held)
    assert not torch.equal(validation_split(targets, 50, seed=2)[1], held)
    assert len(validation_split(targets)[1]) == 100           # a tenth by default

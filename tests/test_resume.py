"""Faults survived, nothing lost: a training process killed by a real SIGKILL resumes exactly, a
kill in the middle of a checkpoint write leaves the previous checkpoint, and a non-finite loss
stops training with the step named and the last good checkpoint kept.

§5: the paper's network trained for five to six days; days of training meet killed jobs.
"""
import hashlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from conftest_cli import (alexnet_command, cifar_env, cifar_test, cifar_train,  # noqa: F401
                          session_cache, small_cifar, subprocess_env, without_seconds)

from alexnet import FourLayerCNN
from alexnet.checkpoint import load_checkpoint, save_checkpoint
from alexnet.cli import main
from alexnet.errors import AlexNetError
from alexnet.train import TrainConfig, Trainer

TRAIN = ["train", "--data", "cifar10", "--train-subset", "128", "--batch-size", "32",
         "--epochs", "2", "--seed", "7", "--arch", "cifar", "--init", "pytorch", "--device", "cpu",
         "--no-progress"]


def _epoch_of(path) -> int:
    """The epoch of the checkpoint at ``path``, 0 while there is none."""
    return load_checkpoint(path)["epoch"] if path.exists() else 0


KILLED_IN_EPOCH_2 = textwrap.dedent("""
    import os, signal, sys
    from alexnet import train
    from alexnet.cli import main

    progress = train.Trainer._progress

    def dying(self, loader, desc):
        for step, batch in enumerate(progress(self, loader, desc)):
            if desc == "epoch 2" and step == 2:     # two of epoch 2's four steps are done
                os.kill(os.getpid(), signal.SIGKILL)
            yield batch

    train.Trainer._progress = dying
    sys.exit(main(sys.argv[1:]))
""")


def test_a_killed_run_resumes_exactly(small_cifar, tmp_path):
    """CifarAlexNet (dropout and augmentation: both random) for 2 epochs, once straight through
    and once killed with SIGKILL in the middle of epoch 2 (the process kills itself there, so the
    moment does not depend on the machine's speed) then resumed: the final checkpoints are
    identical."""
    env = subprocess_env(small_cifar)
    straight = subprocess.run(alexnet_command(*TRAIN, "--checkpoint-dir", str(tmp_path / "a")),
                              env=env, capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr

    last = tmp_path / "b" / "last.pt"
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_EPOCH_2, *TRAIN, "--checkpoint-dir",
                             str(last.parent)], env=env, capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr   # it got to epoch 2, step 3
    assert killed.stdout == ""                               # no summary: it never finished
    assert _epoch_of(last) == 1                             # killed mid-epoch 2: epoch 1 kept
    resumed = subprocess.run(alexnet_command(*TRAIN, "--checkpoint-dir", str(last.parent),
                                             "--resume"),
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == straight.stdout                 # the same final metrics line

    a, b = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(last)
    assert a["epoch"] == b["epoch"] == 2
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    velocity_a, velocity_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert velocity_a.keys() == velocity_b.keys()
    for i in velocity_a:
        assert torch.equal(velocity_a[i]["momentum_buffer"], velocity_b[i]["momentum_buffer"])
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    assert a["scheduler"] == b["scheduler"]
    assert without_seconds(a["history"]) == without_seconds(b["history"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


SAVE_FOREVER = textwrap.dedent("""
    import sys, torch
    from alexnet.checkpoint import save_checkpoint
    weights, step = torch.zeros(1_000_000), 0
    while True:
        step += 1
        save_checkpoint({"step": step, "weights": weights.fill_(step)}, sys.argv[1])
        print(step, flush=True)
""")


def test_a_kill_during_a_save_leaves_the_previous_checkpoint(tmp_path):
    """Three processes save a 4 MB checkpoint over and over; each is killed (SIGKILL) at another
    moment, almost surely in the middle of a write. What is left loads, whole and consistent."""
    env = subprocess_env()
    paths = [tmp_path / f"run{i}" / "last.pt" for i in range(3)]
    processes = [subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(p)], env=env,
                                  stdout=subprocess.PIPE, text=True) for p in paths]
    try:
        for i, process in enumerate(processes):
            for _ in range(3 + 2 * i):                       # a few saves done, then kill
                saved = int(process.stdout.readline())
            time.sleep(0.01 * i)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    finally:
        for process in processes:
            process.kill()
            process.stdout.close()
    for path in paths:
        state = load_checkpoint(path)
        assert state["step"] >= 3
        assert torch.equal(state["weights"], torch.full((1_000_000,), float(state["step"])))
        save_checkpoint({"step": 0}, path)                   # a leftover temporary file is harmless
        assert load_checkpoint(path)["step"] == 0
    assert saved >= 7


class _Batches:
    """Three batches an epoch; ``bad`` = (epoch, batch) is poisoned with a NaN pixel."""

    def __init__(self, bad: tuple[int, int]):
        generator = torch.Generator().manual_seed(0)
        self.batches = [(torch.randn(8, 3, 32, 32, generator=generator) * 50,
                         torch.randint(0, 10, (8,), generator=generator)) for _ in range(3)]
        self.bad, self.epoch = bad, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        for i, (x, y) in enumerate(self.batches):
            if (self.epoch, i) == self.bad:
                x = x.clone()
                x[0, 0, 0, 0] = float("nan")
            yield x, y


def _plain(value) -> bool:
    """Only tensors and plain values (what ``weights_only=True`` loads), all the way down."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (torch.Tensor, bool, int, float, str))


def test_a_checkpoint_holds_tensors_and_plain_values_and_round_trips(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(FourLayerCNN(), TrainConfig(epochs=2, checkpoint_dir=str(tmp_path),
                                                  progress=False))
    trainer.fit(_Batches(bad=(-1, -1)))
    raw = torch.load(tmp_path / "last.pt", weights_only=True)
    assert _plain(raw)
    assert set(raw) == {"format", "model", "model_config", "optimizer", "scheduler", "scaler",
                        "epoch", "history", "train_config", "rng"}
    again = Trainer(FourLayerCNN(), TrainConfig(epochs=2, checkpoint_dir=str(tmp_path),
                                                progress=False))
    assert again.resume() and again.epoch == 2 and again.history == trainer.history
    for name, value in trainer.module.state_dict().items():
        assert torch.equal(again.module.state_dict()[name], value)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(FourLayerCNN(), TrainConfig(epochs=3, checkpoint_dir=str(tmp_path),
                                                  progress=False))
    with pytest.raises(AlexNetError) as error:
        trainer.fit(_Batches(bad=(1, 1)))
    assert str(error.value) == (f"the loss became nan at epoch 2, step 2; training stopped and the "
                                f"last good checkpoint {tmp_path / 'last.pt'} (epoch 1) is kept: "
                                "lower the learning rate")
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_diverging_run_stops_with_the_step_and_keeps_its_checkpoint(cifar_env, tmp_path,
                                                                       capsys):
    """Through the CLI: epoch 1 trains normally; then the learning rate in the checkpoint is made
    absurd (1e30), and the resumed epoch 2 diverges. Exit status 1, one line naming the epoch and
    the step, and the checkpoint on disk is byte for byte the one from before."""
    args = ["train", "--data", "cifar10", "--train-subset", "128", "--batch-size", "64",
            "--arch", "four-layer", "--device", "cpu", "--no-progress",
            "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--epochs", "1"]) == 0
    last = tmp_path / "last.pt"
    state = load_checkpoint(last)
    state["optimizer"]["param_groups"][0]["lr"] = 1e30
    save_checkpoint(state, last)
    before = _digest(last)
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--resume"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"alexnet train: error: the loss became (nan|inf|-inf) at epoch 2, step [12]; training "
        rf"stopped and the last good checkpoint {re.escape(str(last))} \(epoch 1\) is kept: lower "
        r"the learning rate\n", err), err
    assert _digest(last) == before


def test_a_diverging_first_epoch_says_no_checkpoint_was_written(cifar_env, tmp_path, capsys):
    code = main(["train", "--data", "cifar10", "--train-subset", "128", "--batch-size", "64",
                 "--arch", "four-layer", "--device", "cpu", "--no-progress", "--lr", "1e30",
                 "--epochs", "1", "--checkpoint-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert re.fullmatch(r"alexnet train: error: the loss became (nan|inf|-inf) at epoch 1, step "
                        r"[12]; training stopped and no checkpoint was written: lower the "
                        r"learning rate\n", err), err
    assert not (tmp_path / "last.pt").exists()

"""Faults survived, nothing lost: a training process killed by a real SIGKILL resumes exactly, a
kill in the middle of a checkpoint write leaves the previous checkpoint, and a non-finite loss,
weight or validation loss stops training with the step named and the last good checkpoint kept.
Also: one run per checkpoint folder (an OS lock), SIGTERM and Ctrl-C during a write, a full disk,
the temporary files of killed writes, --resume with other options, and checkpoints from an older
version or edited by hand.

§5: the paper's network trained for five to six days; days of training meet killed jobs.
"""
import errno
import hashlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from helpers import alexnet_command, subprocess_env, without_seconds

from alexnet import FourLayerCNN
from alexnet.checkpoint import load_checkpoint, save_checkpoint
from alexnet.cli import main
from alexnet.data import CIFAR10_CLASSES
from alexnet.errors import AlexNetError
from alexnet.files import RECORD
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
                        "epoch", "history", "train_config", "rng", "classes", "split",
                        "config_changes"}
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


# ---------------------------------------------------------------- nothing non-finite is saved

FOUR = ["train", "--data", "cifar10", "--arch", "four-layer", "--device", "cpu", "--no-progress"]
ONE_STEP = ["--train-subset", "64", "--batch-size", "64"]      # one update per epoch


def _finite(path) -> bool:
    return all(torch.isfinite(v).all() for v in load_checkpoint(path)["model"].values())


def test_a_diverged_last_update_never_reaches_the_checkpoint(cifar_env, tmp_path, capsys):
    """Epoch 1 trains normally. Epoch 2 (resumed with the checkpoint's rate made absurd) has one
    update, whose loss was read before the update, finite: before, the diverged model (weights of
    1e28 or inf, validation loss NaN) was written over last.pt and the run ended with status 0.
    Now the weights and the validation loss are checked before every save."""
    args = [*FOUR, *ONE_STEP, "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--epochs", "1"]) == 0
    last = tmp_path / "last.pt"
    state = load_checkpoint(last)
    for group in state["optimizer"]["param_groups"]:
        group["lr"] = 1e30
    save_checkpoint(state, last)
    before = _digest(last)
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--resume"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"alexnet train: error: the (weights became non-finite \(\S+\) in epoch 2|validation loss "
        r"became (nan|inf) after epoch 2); training stopped and the last good checkpoint "
        rf"{re.escape(str(last))} \(epoch 1\) is kept: lower the learning rate\n", err), err
    assert _digest(last) == before and _finite(last)


def test_a_first_epoch_that_diverges_in_its_last_update_writes_nothing(cifar_env, tmp_path,
                                                                       capsys):
    assert main([*FOUR, *ONE_STEP, "--lr", "1e30", "--epochs", "1",
                 "--checkpoint-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"alexnet train: error: the (weights|validation loss) .*; training stopped "
                        r"and no checkpoint was written: lower the learning rate\n", err), err
    assert not (tmp_path / "last.pt").exists()


def test_non_finite_weights_are_caught_after_the_last_update_without_validation(tmp_path):
    """No validation loader: the weights themselves are checked. A gradient that turns NaN in the
    last step of epoch 2 (its loss, computed before, is finite) stops training; last.pt stays the
    finite epoch 1, and the message says so truthfully."""
    torch.manual_seed(0)
    model = FourLayerCNN()
    trainer = Trainer(model, TrainConfig(epochs=3, checkpoint_dir=str(tmp_path), progress=False))
    batches, calls = _Batches(bad=(-1, -1)), []

    def poison(grad):
        calls.append(1)
        return grad * float("nan") if len(calls) == 6 else grad   # epoch 2, step 3 of 3

    model[0].weight.register_hook(poison)
    with pytest.raises(AlexNetError) as error:
        trainer.fit(batches)
    assert str(error.value) == (
        f"the weights became non-finite (0.weight) in epoch 2; training stopped and the last good "
        f"checkpoint {tmp_path / 'last.pt'} (epoch 1) is kept: lower the learning rate")
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1 and _finite(tmp_path / "last.pt")
    with pytest.raises(AlexNetError, match=r"the weights became non-finite \(0.weight\)"):
        trainer.save()                                 # never over a finite checkpoint


# ---------------------------------------------------------------- one run per folder

PAUSED_IN_EPOCH_1 = textwrap.dedent("""
    import sys, time
    from alexnet import train
    from alexnet.cli import main

    progress = train.Trainer._progress

    def paused(self, loader, desc):
        print("training", flush=True)
        time.sleep(600)
        yield from progress(self, loader, desc)

    train.Trainer._progress = paused
    sys.exit(main(sys.argv[1:]))
""")


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_lives(small_cifar, cifar_env,
                                                                          tmp_path, capsys):
    """Before, two runs on one --checkpoint-dir both trained and one's work vanished. Now the
    first holds an OS lock; the second gets one line naming it (pid and host). SIGKILL the first:
    the kernel releases the lock, and the folder can be used again."""
    args = [*FOUR, "--train-subset", "128", "--batch-size", "64", "--epochs", "1",
            "--checkpoint-dir", str(tmp_path)]
    first = subprocess.Popen([sys.executable, "-c", PAUSED_IN_EPOCH_1, *args],
                             env=subprocess_env(small_cifar), stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline() == "training\n"
        status = main(args)
        err = capsys.readouterr().err
        assert status == 1
        assert re.fullmatch(rf"alexnet train: error: checkpoint folder {re.escape(str(tmp_path))} "
                            rf"is in use by another run \(pid {first.pid} on \S+\): wait for it "
                            r"to end \(or stop it\), or choose another --checkpoint-dir\n", err), err
    finally:
        first.kill()
        first.wait(timeout=30)
        first.stdout.close()
    assert main(args) == 0                                   # the lock died with its holder
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1


def test_the_temporary_files_of_killed_writes_are_removed_at_the_next_start(cifar_env, tmp_path,
                                                                            capsys):
    args = [*FOUR, *ONE_STEP, "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--epochs", "1"]) == 0
    stale = [tmp_path / ".last.pt.k1ll3d_.tmp", tmp_path / ".last.pt.0ther9.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 100_000)                   # what a SIGKILL mid-write leaves
    (tmp_path / "notes.txt").write_text("mine")
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert not any(path.exists() for path in stale)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [RECORD, ".lock", "last.pt", "notes.txt"]


SIGNAL_DURING_SAVE = textwrap.dedent("""
    import os, signal, sys, torch
    from alexnet.cli import main

    real_save, saves = torch.save, []

    def interrupted_save(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 2:                     # epoch 2's checkpoint, half written
            f.write(b"half a checkpoint" * 1000)
            os.kill(os.getpid(), getattr(signal, sys.argv[1]))
        return real_save(obj, f, *args, **kwargs)

    torch.save = interrupted_save
    sys.exit(main(sys.argv[2:]))
""")


@pytest.mark.parametrize("name,code,says", [
    ("SIGTERM", 143, "terminated (SIGTERM)"), ("SIGINT", 130, "interrupted")])
def test_a_signal_during_a_checkpoint_write(small_cifar, tmp_path, name, code, says):
    """SIGTERM (what a scheduler or `kill` sends) or Ctrl-C while epoch 2's checkpoint is being
    written: one line, exit 143 or 130, epoch 1's checkpoint whole, and no temporary file left.
    Before, SIGTERM killed the process outright and left the half-written temporary file."""
    done = subprocess.run([sys.executable, "-c", SIGNAL_DURING_SAVE, name, *FOUR, *ONE_STEP,
                           "--epochs", "3", "--checkpoint-dir", str(tmp_path)],
                          env=subprocess_env(small_cifar), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == code, done.stderr
    assert done.stderr == f"alexnet train: {says}; the last checkpoint written is intact\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [RECORD, ".lock", "last.pt"]
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1


def test_a_full_disk_while_writing_a_checkpoint(cifar_env, tmp_path, capsys, monkeypatch):
    """The writer fails with ENOSPC half-way through epoch 2's checkpoint: one line naming the
    cause and the fix, epoch 1's checkpoint as it was, no temporary file. Before: a traceback."""
    real_save, saves = torch.save, []

    def full(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 2:
            f.write(b"\0" * 10_000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full)
    status = main([*FOUR, *ONE_STEP, "--epochs", "3", "--checkpoint-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 1
    assert err == (f"alexnet train: error: cannot write checkpoint {tmp_path / 'last.pt'} (No space "
                   "left on device); the checkpoint of epoch 1 is left as it was: free space on "
                   "that disk (or choose another --checkpoint-dir), then --resume\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [RECORD, ".lock", "last.pt"]
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1


# ---------------------------------------------------------------- --resume with other options

def test_resume_applies_a_new_learning_rate_and_weight_decay_and_records_them(cifar_env, tmp_path,
                                                                              capsys):
    """Before, --resume with another --lr or --weight-decay kept the old ones in the optimizer but
    wrote the new ones into the checkpoint's config. Now they apply from the next epoch, each with
    one warning line, and the checkpoint records what ran."""
    args = [*FOUR, *ONE_STEP, "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--resume", "--lr", "0.005", "--weight-decay",
                 "0.001"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "alexnet train: warning: resuming with learning rate 0.005 where the checkpoint's run "
        "started at 0.01: the rate goes from 0.01 to 0.005 from epoch 2 (the drops so far are "
        "kept), and the change is recorded in the checkpoint",
        "alexnet train: warning: resuming with weight_decay 0.001 where the checkpoint's run used "
        "0.0005: it applies from epoch 2 (so the run is not the one an uninterrupted run would "
        "be), and the change is recorded in the checkpoint"]
    state = load_checkpoint(tmp_path / "last.pt")
    weights, biases = state["optimizer"]["param_groups"]
    assert (weights["name"], weights["lr"], weights["weight_decay"]) == ("weights", 0.005, 0.001)
    assert (biases["name"], biases["lr"], biases["weight_decay"]) == ("biases", 0.005, 0.0)
    assert [row["lr"] for row in state["history"]] == [0.01, 0.005]
    assert (state["train_config"]["lr"], state["train_config"]["weight_decay"]) == (0.005, 0.001)
    assert state["config_changes"] == [
        {"after_epoch": 1, "option": "epochs", "from": 1, "to": 2},
        {"after_epoch": 1, "option": "lr", "from": 0.01, "to": 0.005},
        {"after_epoch": 1, "option": "weight_decay", "from": 0.0005, "to": 0.001}]


@pytest.mark.parametrize("option,value,saved", [
    ("--patience", "1", "patience 3 but this run asks for 1: resume with the same --patience"),
    ("--schedule", "step",
     "schedule 'plateau' but this run asks for 'step': resume with the same --schedule")])
def test_resume_refuses_another_schedule(cifar_env, tmp_path, capsys, option, value, saved):
    args = [*FOUR, *ONE_STEP, "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--epochs", "1"]) == 0
    before = _digest(tmp_path / "last.pt")
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--resume", option, value]) == 1
    assert capsys.readouterr().err == (
        f"alexnet train: error: checkpoint {tmp_path / 'last.pt'} was trained with {saved} (the "
        "saved schedule continues), or start a new run in another --checkpoint-dir\n")
    assert _digest(tmp_path / "last.pt") == before


def test_the_step_schedule_divides_at_its_milestones_and_is_kept_on_resume(cifar_env, tmp_path,
                                                                           capsys):
    args = [*FOUR, *ONE_STEP, "--schedule", "step", "--milestones", "1", "2",
            "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--epochs", "2"]) == 0
    assert main([*args, "--epochs", "3", "--resume"]) == 0
    state = load_checkpoint(tmp_path / "last.pt")
    assert [row["lr"] for row in state["history"]] == pytest.approx([0.01, 0.001, 0.0001])
    assert state["train_config"]["schedule"] == "step"
    assert state["train_config"]["milestones"] == [1, 2]
    capsys.readouterr()
    assert main([*FOUR, *ONE_STEP, "--milestones", "3", "--epochs", "1"]) == 1
    assert capsys.readouterr().err == (
        "alexnet train: error: milestones [3] apply to schedule='step' only: pass "
        "schedule='step' (--schedule step), or leave them out\n")


# ---------------------------------------------------------------- checkpoints that do not fit

def test_a_checkpoint_with_other_parameter_groups_is_refused(cifar_env, tmp_path, capsys):
    """§5's decay on weights only needs two parameter groups: a checkpoint with one (biases
    decayed too) cannot continue exactly, and says so in one line instead of a traceback from the
    optimizer."""
    args = [*FOUR, *ONE_STEP, "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--epochs", "1"]) == 0
    last = tmp_path / "last.pt"
    state = load_checkpoint(last)
    weights, biases = state["optimizer"]["param_groups"]
    merged = {k: v for k, v in weights.items() if k != "name"}
    merged["params"] = sorted(weights["params"] + biases["params"])
    state["optimizer"]["param_groups"] = [merged]
    save_checkpoint(state, last)
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--resume"]) == 1
    assert capsys.readouterr().err == (
        f"alexnet train: error: checkpoint {last} has optimizer parameter groups [None] where this "
        "version has weights and biases: it was edited by hand or written by another version; "
        "start a new run in another --checkpoint-dir\n")


def _edited(path, edit) -> None:
    state = load_checkpoint(path)
    edit(state)
    save_checkpoint(state, path)


@pytest.mark.parametrize("edit,says", [
    (lambda s: s.pop("optimizer"), "lacks optimizer: it was edited by hand or written by another "
     "program or version; pass a checkpoint written by `alexnet train`"),
    (lambda s: s.pop("rng"), "lacks rng: it was edited by hand"),
    (lambda s: s.update(notes="mine"), "has entries this version does not know (notes): it was "
     "edited by hand"),
    (lambda s: s.update(epoch="one"), "has a str for 'epoch': it was edited by hand"),
    (lambda s: s["model"].update({"0.weight": [1, 2]}), "has weights that are not tensors"),
    (lambda s: s["optimizer"].pop("state"), "has an optimizer or schedule state that does not fit "
     "this run (KeyError)"),
    (lambda s: s["train_config"].update(lr=-1.0), "has a train_config that this version cannot "
     "take (learning rate must be a finite number > 0, got -1.0)"),
    (lambda s: s.update(rng={"torch": 1, "cuda": [], "python": [], "numpy": []}),
     "has a random-number state that cannot be restored"),
], ids=["no-optimizer", "no-rng", "unknown-entry", "epoch-text", "weights-list", "no-state",
        "bad-config", "bad-rng"])
def test_hand_made_checkpoints_are_one_line(cifar_env, tmp_path, capsys, edit, says):
    args = [*FOUR, *ONE_STEP, "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--epochs", "1"]) == 0
    _edited(tmp_path / "last.pt", edit)
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--resume"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"alexnet train: error: checkpoint {tmp_path / 'last.pt'} ")
    assert says in err and err.count("\n") == 1, err


def test_evaluate_a_hand_made_checkpoint(cifar_env, tmp_path, capsys):
    args = [*FOUR, *ONE_STEP, "--checkpoint-dir", str(tmp_path), "--epochs", "1"]
    assert main(args) == 0
    last = tmp_path / "last.pt"
    evaluate = ["evaluate", "--checkpoint", str(last), "--data", "cifar10", "--device", "cpu",
                "--no-progress"]
    _edited(last, lambda s: s.pop("model"))
    capsys.readouterr()
    assert main(evaluate) == 1
    assert capsys.readouterr().err.startswith(
        f"alexnet evaluate: error: checkpoint {last} lacks model: it was edited by hand")
    _edited(last, lambda s: s.update(model={}, model_config={"arch": "FourLayerCNN", "wings": 2}))
    assert main(evaluate) == 1
    assert capsys.readouterr().err == (
        "alexnet evaluate: error: the model config names option(s) wings that FourLayerCNN does "
        "not have: pass a config stored by this package (model.config)\n")


def test_checkpoints_store_the_class_names(cifar_env, tmp_path):
    assert main([*FOUR, *ONE_STEP, "--epochs", "1", "--checkpoint-dir", str(tmp_path)]) == 0
    assert load_checkpoint(tmp_path / "last.pt")["classes"] == CIFAR10_CLASSES

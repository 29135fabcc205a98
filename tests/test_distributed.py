"""Data parallelism on torch.distributed, tested with two CPU processes and gloo.

Synchronous data-parallel SGD is plain SGD on the global batch: each of ``W`` processes computes
the mean loss gradient over its ``B/W`` images, DistributedDataParallel averages the gradients, and
every process applies the same update. So a distributed step must equal a single-process step on
the same ``B`` images, up to floating-point rounding. The two-tower model of §3.2 (model
parallelism inside a process) combines with it.
"""
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers import run_alexnet, without_seconds
from torch.nn.parallel import DistributedDataParallel

from alexnet import CifarAlexNet, TwoTowerAlexNet
from alexnet.files import RECORD
from alexnet.train import TrainConfig, Trainer

WORLD = 2
TORCHRUN = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(WORLD))
KINDS = ("cifar", "two-tower")


def _problem(kind: str):
    """A model and two global batches (one for the two-tower model), the same in every process."""
    torch.manual_seed(0)
    if kind == "two-tower":   # §3.2 at a small width: both towers on the CPU
        model = TwoTowerAlexNet(4, ("cpu", "cpu"), channels=(16, 32, 48, 48, 32), hidden=64,
                                dropout=0.0, init="pytorch")
        batches = [(torch.randn(4, 3, 224, 224) * 50, torch.tensor([0, 1, 2, 3]))]
    else:
        model = CifarAlexNet(dropout=0.0, init="pytorch")
        batches = [(torch.randn(16, 3, 32, 32) * 50, torch.randint(0, 10, (16,))) for _ in range(2)]
    return model, batches


def _train_shards(rank: int, folder: str) -> None:
    """One process of the group: for each model, train on this rank's share of each global batch;
    rank 0 saves every rank's weights and the metrics. Then a checkpoint round trip."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/init", rank=rank, world_size=WORLD)
    try:
        results = {}
        for kind in KINDS:
            model, batches = _problem(kind)
            trainer = Trainer(model, TrainConfig(epochs=1, progress=False))
            assert isinstance(trainer.model, DistributedDataParallel)
            shards = [(x.chunk(WORLD)[rank], y.chunk(WORLD)[rank]) for x, y in batches]
            metrics = trainer.train_epoch(shards, epoch=0)
            ranks = [None] * WORLD
            dist.all_gather_object(ranks, {k: v.clone() for k, v in model.state_dict().items()})
            results[kind] = {"metrics": metrics, "ranks": ranks}
        results["resumed"] = [None] * WORLD
        dist.all_gather_object(results["resumed"], _save_and_resume(rank, folder))
        if rank == 0:
            torch.save(results, f"{folder}/result.pt")
    finally:
        dist.destroy_process_group()


def _save_and_resume(rank: int, folder: str) -> bool:
    """Rank 0 writes the checkpoint, with every rank's random-number state; on resume rank 0 reads
    it and sends it on (rank 1 is given a folder with no checkpoint in it, like another machine's
    disk), and each rank gets its own random-number state back."""
    config = dict(epochs=1, progress=False, checkpoint_dir=f"{folder}/run" if rank == 0 else
                  f"{folder}/rank{rank}-sees-no-checkpoint")
    model, _ = _problem("cifar")
    torch.manual_seed(100 + rank)                            # each rank its own random stream
    Trainer(model, TrainConfig(**config)).save()
    expected = torch.rand(5)
    fresh = CifarAlexNet(dropout=0.0, init="pytorch")
    resumed = Trainer(fresh, TrainConfig(**config))
    return (resumed.resume() and torch.equal(torch.rand(5), expected) and
            all(torch.equal(a, b) for a, b in zip(fresh.parameters(), model.parameters())))


def _single_process(kind: str):
    model, batches = _problem(kind)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    metrics = Trainer(model, TrainConfig(epochs=1, progress=False)).train_epoch(batches, epoch=0)
    return before, model.state_dict(), metrics


def test_a_distributed_step_equals_a_single_process_step(tmp_path):
    """Two gloo processes, each with half of every global batch, end with the weights (and the
    all-reduced loss and errors) of one process given whole batches: for CifarAlexNet (two SGD
    steps, so momentum counts too) and for the two-tower model, DDP around model parallelism."""
    mp.spawn(_train_shards, args=(str(tmp_path),), nprocs=WORLD)
    results = torch.load(tmp_path / "result.pt", weights_only=True)
    for kind in KINDS:
        before, expected, metrics = _single_process(kind)
        ranks = results[kind]["ranks"]
        for name, value in expected.items():
            assert not torch.equal(value, before[name]), f"{kind} {name} did not train"
            assert torch.equal(ranks[0][name], ranks[1][name]), f"the ranks disagree on {name}"
            torch.testing.assert_close(ranks[0][name], value, rtol=1e-5, atol=1e-6,
                                       msg=f"{kind} {name}")
        assert results[kind]["metrics"] == pytest.approx(metrics, rel=1e-5)
    assert results["resumed"] == [True] * WORLD


def test_torchrun_trains_like_one_process(small_cifar, tmp_path):
    """``torchrun -m alexnet train`` on two CPU processes: distributed sampling (each rank half of
    every global batch), metrics reduced over the ranks, one checkpoint written by rank 0, one
    line printed; the weights and metrics match one process on the same batches (no augmentation
    and no dropout, so nothing random differs)."""
    common = ["train", "--data", "cifar10", "--train-subset", "256", "--batch-size", "64",
              "--epochs", "2", "--seed", "5", "--arch", "four-layer", "--no-augment",
              "--device", "cpu", "--no-progress", "--checkpoint-dir"]
    distributed, single = tmp_path / "distributed", tmp_path / "single"
    ours = run_alexnet(*common, str(distributed), env=small_cifar, launcher=TORCHRUN)
    assert ours.returncode == 0, ours.stderr
    alone = run_alexnet(*common, str(single), env=small_cifar)
    assert alone.returncode == 0, alone.stderr

    assert ours.stdout.count("\n") == 1 and ours.stdout.startswith("epoch 2: train loss ")
    assert sorted(os.listdir(distributed)) == [RECORD, ".lock", "last.pt"]  # the lock, released
    ours, theirs = (torch.load(d / "last.pt", weights_only=True) for d in (distributed, single))
    assert ours["epoch"] == 2 and len(ours["rng_ranks"]) == WORLD
    # Eight steps, not one: rounding differences (gradients summed in another order) can flip a
    # max-pooling window's choice between two nearly equal values, which changes that window's
    # gradient outright, so they grow to about 1e-5 (the one-step test above holds to 1e-6).
    for name, value in theirs["model"].items():
        torch.testing.assert_close(ours["model"][name], value, rtol=1e-3, atol=2e-5, msg=name)
    for row, expected in zip(without_seconds(ours["history"]), without_seconds(theirs["history"])):
        assert row == pytest.approx(expected, rel=1e-4, abs=1e-2)  # errors may differ by an image


def _rank_errors(log_dir) -> dict[int, str]:
    """Each rank's stderr, as torchrun --redirects 2 wrote it (log_dir/<run>/attempt_0/<rank>/)."""
    files = sorted(log_dir.glob("*/attempt_*/*/stderr.log"))
    return {int(f.parent.name): f.read_text() for f in files}


@pytest.mark.parametrize("fault", ["existing-checkpoint", "corrupt-checkpoint"])
def test_under_torchrun_every_rank_refuses_with_rank_zeros_line(small_cifar, tmp_path, fault):
    """Only rank 0 checks the checkpoint folder and reads the checkpoint. Before, when that failed
    the other rank went on alone and died in its next collective with a gloo traceback ("Connection
    closed by peer"); now rank 0's one line is sent to every rank, and each stops with it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    last = run_dir / "last.pt"
    torch.save({"weights": torch.zeros(3)}, last) if fault == "existing-checkpoint" else \
        last.write_bytes(b"PK\x03\x04 half a zip")
    args = ["train", "--data", "cifar10", "--train-subset", "128", "--batch-size", "64", "--epochs",
            "1", "--arch", "four-layer", "--device", "cpu", "--no-progress",
            "--checkpoint-dir", str(run_dir)] + (["--resume"] if fault != "existing-checkpoint" else [])
    logs = tmp_path / "logs"
    done = run_alexnet(*args, env=small_cifar,
                       launcher=(*TORCHRUN, "--log-dir", str(logs), "--redirects", "2"))
    assert done.returncode != 0
    expected = (f"alexnet train: error: {last} already exists: pass --resume to continue that run, "
                "or choose another --checkpoint-dir\n" if fault == "existing-checkpoint" else
                f"alexnet train: error: checkpoint {last} is corrupt or truncated (it cannot be read "
                "as a torch file): restore a copy, or delete it and train again\n")
    assert _rank_errors(logs) == {0: expected, 1: expected}

"""The training recipe of §5 as the Trainer builds it: weight decay on the weights only, the
plateau schedule with its patience, the step schedule at fixed milestones, and seeds that work
for every rank and every epoch."""
import random

import pytest
import torch

from alexnet import CifarAlexNet, FourLayerCNN
from alexnet.train import TrainConfig, Trainer, seed_everything


def test_weight_decay_applies_to_weights_not_biases():
    """§5's update decays w; cuda-convnet sets its decay (wc) on weights only. With zero gradients
    one SGD step shrinks every weight by lr · 5e-4 and leaves every bias as it was (before, the
    biases shrank too)."""
    torch.manual_seed(0)
    model = CifarAlexNet()
    trainer = Trainer(model, TrainConfig(lr=0.01, momentum=0.0))
    weights, biases = trainer.optimizer.param_groups
    assert (weights["name"], weights["weight_decay"]) == ("weights", 5e-4)
    assert (biases["name"], biases["weight_decay"]) == ("biases", 0.0)
    assert {id(p) for p in weights["params"]} == {id(p) for p in model.parameters() if p.dim() > 1}
    assert {id(p) for p in biases["params"]} == {id(p) for p in model.parameters() if p.dim() == 1}
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    trainer.optimizer.step()
    for name, p in model.named_parameters():
        factor = 1 - 0.01 * 5e-4 if p.dim() > 1 else 1.0
        torch.testing.assert_close(p.detach(), before[name] * factor, rtol=1e-6, atol=1e-9)


class _Flat:
    """A loader with one fixed batch; its validation error is set from outside, epoch by epoch."""

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.batch = (torch.randn(4, 3, 32, 32, generator=g), torch.tensor([0, 1, 2, 3]))

    def __iter__(self):
        yield self.batch


def _rates(config: TrainConfig, val_errors: list[float]) -> list[float]:
    """The learning rate of each epoch when the validation top-1 error goes as ``val_errors``."""
    trainer = Trainer(FourLayerCNN(), config)
    errors = iter(val_errors)
    trainer.evaluate = lambda loader, **_: {"val_loss": 1.0, "val_top1": next(errors),
                                            "val_top5": 0.0}
    return [row["lr"] for row in trainer.fit(_Flat(), _Flat())]


def test_the_plateau_schedule_waits_patience_epochs_before_dividing():
    """The default patience is 3: the rate is divided after the fourth epoch in a row without a
    new best validation error (before: after the first one, patience 0)."""
    assert TrainConfig().patience == 3
    flat = [0.5] * 9
    rates = _rates(TrainConfig(epochs=9, progress=False), flat)
    assert rates == pytest.approx([0.01] * 5 + [0.001] * 4)
    rates = _rates(TrainConfig(epochs=4, patience=0, progress=False), flat)
    assert rates == pytest.approx([0.01, 0.01, 0.001, 0.0001])     # epoch 1 sets the best


def test_the_plateau_schedule_divides_at_most_max_lr_drops_times():
    rates = _rates(TrainConfig(epochs=8, patience=0, max_lr_drops=2, progress=False), [0.5] * 8)
    assert rates[-1] == pytest.approx(0.0001)


def test_the_step_schedule_reads_no_validation_error():
    """The step schedule divides at its milestones whatever the validation error does."""
    config = TrainConfig(epochs=5, schedule="step", milestones=(2, 4), progress=False)
    improving, flat = [0.9, 0.8, 0.7, 0.6, 0.5], [0.5] * 5
    assert _rates(config, improving) == _rates(config, flat) == pytest.approx(
        [0.01, 0.01, 0.001, 0.001, 0.0001])


def test_any_seed_in_range_seeds_every_rank_and_epoch():
    """seed + rank (and the seeds derived on resume) must not overflow PyTorch's 64 bits."""
    for seed in (2**64 - 1, 2**64 - 1 + 1, 2**64 - 1 + 1_000_003 * 90 + 7):
        seed_everything(seed)
        a = torch.rand(3), random.random()
        seed_everything(seed)
        assert torch.equal(a[0], torch.rand(3)) and a[1] == random.random()

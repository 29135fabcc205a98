"""The training recipe of §5 as the Trainer builds it: weight decay on the weights only, the
plateau schedule with its patience, the step schedule at fixed milestones, and seeds that work
for every rank and every epoch."""
import random

import pytest
import torch

from alexnet import CifarAlexNet, FourLayerCNN
from alexnet.errors import AlexNetError
from alexnet.train import Diverged, TrainConfig, Trainer, seed_everything, step_rate


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


def test_the_step_schedule_gives_each_epoch_its_closed_form_rate_exactly():
    """Epoch e's rate is lr * 0.1 ** (milestones <= e), computed afresh (no running product), so
    the experiments' rates are exactly those they had when they set the rate by hand."""
    config = TrainConfig(epochs=6, lr=0.03, schedule="step", milestones=(1, 2, 4), progress=False)
    expected = [0.03 * 0.1 ** sum(e >= m for m in (1, 2, 4)) for e in range(6)]
    assert _rates(config, [0.5] * 6) == expected
    assert [0.03 * step_rate(e, (1, 2, 4)) for e in range(6)] == expected


def _tracked(config: TrainConfig, val_errors: list[float]):
    """A trainer whose validation errors go as ``val_errors``, and each epoch's weights."""
    torch.manual_seed(0)
    trainer = Trainer(FourLayerCNN(), config)
    errors, weights = iter(val_errors), {}

    def evaluate(loader, prefix="val", **_):
        weights[len(weights) + 1] = {k: v.clone() for k, v in trainer.module.state_dict().items()}
        return {f"{prefix}_loss": 1.0, f"{prefix}_top1": next(errors), f"{prefix}_top5": 0.0}
    trainer.evaluate = evaluate
    return trainer, weights


def test_early_stopping_stops_and_restore_best_ends_with_the_best_epochs_weights():
    errors = [0.6, 0.4, 0.45, 0.41, 0.3, 0.2]       # best at epoch 2, then two epochs without
    config = TrainConfig(epochs=6, early_stopping=2, restore_best=True, schedule="step",
                         progress=False)               # a constant rate: its last from the start
    trainer, weights = _tracked(config, errors)
    history = trainer.fit(_Flat(), _Flat())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4] and trainer.best_epoch == 2
    final = trainer.module.state_dict()
    assert all(torch.equal(final[k], v) for k, v in weights[2].items())
    assert not all(torch.equal(final[k], v) for k, v in weights[4].items())
    assert all(v.device.type == "cpu" for v in trainer.best_state.values())


def test_early_stopping_waits_for_the_plateau_schedules_last_drop():
    """§5: the rate was "reduced three times prior to termination". Best at epoch 2; epoch 3 is
    worse, so the rate drops (patience 0) for epoch 4, its last drop (max_lr_drops=1): the two
    epochs without improvement are counted from that drop, not from epoch 2."""
    errors = [0.6, 0.4, 0.45, 0.41, 0.42, 0.43, 0.44]
    config = TrainConfig(epochs=7, lr=0.01, early_stopping=2, patience=0, max_lr_drops=1,
                         progress=False)
    trainer, _ = _tracked(config, errors)
    history = trainer.fit(_Flat(), _Flat())
    assert [row["lr"] for row in history] == pytest.approx([0.01, 0.01, 0.01, 0.001, 0.001])


def test_early_stopping_waits_for_the_step_schedules_last_milestone():
    errors = [0.6, 0.4, 0.45, 0.46, 0.47, 0.48]     # no better epoch after 2
    config = TrainConfig(epochs=6, early_stopping=1, schedule="step", milestones=(4,),
                         progress=False)
    trainer, _ = _tracked(config, errors)
    assert len(trainer.fit(_Flat(), _Flat())) == 5  # epoch 5 is the first at the last rate


def test_without_early_stopping_every_epoch_runs_and_the_last_weights_stay():
    trainer, weights = _tracked(TrainConfig(epochs=4, progress=False), [0.6, 0.4, 0.45, 0.5])
    assert len(trainer.fit(_Flat(), _Flat())) == 4 and trainer.best_epoch == 2
    final = trainer.module.state_dict()
    assert all(torch.equal(final[k], v) for k, v in weights[4].items())


def test_early_stopping_needs_a_validation_set():
    trainer = Trainer(FourLayerCNN(), TrainConfig(epochs=2, early_stopping=1, progress=False))
    with pytest.raises(AlexNetError, match="read the validation error: pass a validation loader"):
        trainer.fit(_Flat())


def test_extra_sets_are_scored_every_epoch_and_a_stop_condition_ends_training():
    """``evaluate`` adds ``test_*`` to each row (curves only); ``stop`` ends after its epoch."""
    trainer = Trainer(FourLayerCNN(), TrainConfig(epochs=5, schedule="step", progress=False))
    history = trainer.fit(_Flat(), evaluate={"test": _Flat()}, stop=lambda row: row["epoch"] == 2)
    assert [row["epoch"] for row in history] == [1, 2]
    assert all({"test_loss", "test_top1", "test_top5"} <= set(row) for row in history)
    assert not any(key.startswith("val_") for row in history for key in row)


def test_fit_seeds_from_the_config_unless_told_not_to():
    torch.manual_seed(123)
    Trainer(FourLayerCNN(), TrainConfig(epochs=1, seed=7, reseed=False, progress=False)).fit(_Flat())
    assert torch.initial_seed() == 123
    Trainer(FourLayerCNN(), TrainConfig(epochs=1, seed=7, progress=False)).fit(_Flat())
    assert torch.initial_seed() == 7


def test_a_non_finite_loss_is_reported_as_diverged_with_its_epoch():
    torch.manual_seed(0)
    trainer = Trainer(FourLayerCNN(), TrainConfig(epochs=3, lr=1e6, schedule="step",
                                                  progress=False))
    with pytest.raises(Diverged) as stopped:
        trainer.fit(_Flat())
    assert stopped.value.epoch == len(trainer.history) + 1
    assert "lower the learning rate" in str(stopped.value)

"""alexnet.dropout.fit_head trains through Trainer.fit: on the trainer's device, with §5's decay
on weights only."""
import torch

import alexnet.dropout
from alexnet.dropout import fit_head


def test_fit_head_trains_on_the_trainers_device_with_decay_on_weights_only(monkeypatch):
    made = []

    class Spy(alexnet.dropout.Trainer):
        def __init__(self, model, config=None, device=None):
            made.append((self, device))
            super().__init__(model, config, device)

    monkeypatch.setattr(alexnet.dropout, "Trainer", Spy)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 16, generator=g), torch.arange(40) % 4
    rows = fit_head(x, y, x[:8], y[:8], epochs=2, lr=0.01, hidden=8, weight_decay=5e-4)
    (trainer, asked), = made
    assert asked == x.device                      # the inputs' device unless told otherwise
    assert all(p.device == trainer.device for p in trainer.module.parameters())
    groups = {g["name"]: g for g in trainer.optimizer.param_groups}
    assert groups["weights"]["weight_decay"] == 5e-4 and groups["biases"]["weight_decay"] == 0.0
    assert all(p.dim() == 1 for p in groups["biases"]["params"])
    assert all(p.dim() == 2 for p in groups["weights"]["params"])
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(r["gap"] == r["test_error"] - r["train_error"] for r in rows)

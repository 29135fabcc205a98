"""The paper's dropout (§4.2): ×(1 − p) at test time against PyTorch's inverted dropout, and the
classifier-only run of chapter 5 (fc_head, fit_head)."""
import pytest
import torch
from torch import nn

import alexnet.dropout
from alexnet import CifarAlexNet
from alexnet.dropout import PaperDropout, fc_head, fit_head
from alexnet.errors import AlexNetError


def test_paper_dropout_halves_at_test_time_and_only_masks_in_training():
    x = torch.arange(1.0, 9.0)
    layer = PaperDropout(0.5)
    assert torch.equal(layer.eval()(x), 0.5 * x)
    torch.manual_seed(0)
    out = layer.train()(x)
    assert set((out / x).tolist()) <= {0.0, 1.0}            # kept as is, or zeroed


def test_paper_dropout_drops_the_units_nn_dropout_drops_without_rescaling():
    x = torch.rand(4, 100) + 0.5
    torch.manual_seed(3)
    paper = PaperDropout(0.3).train()(x)
    torch.manual_seed(3)
    inverted = nn.Dropout(0.3).train()(x)
    torch.testing.assert_close(inverted, paper / 0.7)


@pytest.mark.parametrize("p", [0.25, 0.5, 0.75])
def test_training_and_test_expectations_match_for_both_kinds(p):
    x = torch.linspace(1, 4, 6)
    torch.manual_seed(0)
    for layer in (PaperDropout(p), nn.Dropout(p)):
        mean = layer.train()(x.expand(200_000, -1)).mean(0)
        torch.testing.assert_close(mean, layer.eval()(x), rtol=0.02, atol=0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_paper_dropout_refuses_probabilities_outside_zero_to_one(p):
    with pytest.raises(AlexNetError, match="dropout probability"):
        PaperDropout(p)


def test_fc_head_is_alexnets_classifier():
    head, classifier = fc_head(1024, 512, 10, 0.5), CifarAlexNet().classifier
    assert [type(m) for m in head] == [type(m) for m in classifier]
    assert [tuple(p.shape) for p in head.parameters()] == \
           [tuple(p.shape) for p in classifier.parameters()]
    assert [m.p for m in head if isinstance(m, nn.Dropout)] == [0.5, 0.5]


@pytest.fixture(scope="module")
def toy():
    """Two Gaussian blobs per class in 20 dimensions, 4 classes: easy to learn by heart."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 20, generator=g) * 3
    def draw(n):
        y = torch.arange(n) % 4
        return centres[y] + torch.randn(n, 20, generator=g) * 2, y
    return (*draw(200), *draw(200))


def test_fit_head_measures_both_errors_after_every_epoch(toy):
    rows = fit_head(*toy, dropout=0.0, epochs=4, lr=0.01, hidden=64)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        assert 0 <= r["train_error"] <= 1 and 0 <= r["test_error"] <= 1
        assert r["gap"] == pytest.approx(r["test_error"] - r["train_error"])
    assert rows[-1]["train_error"] < 0.75            # it learns (chance is 75%)


def test_fit_head_is_reproducible_from_its_seed(toy):
    first = fit_head(*toy, dropout=0.5, epochs=2, lr=0.01, hidden=32, seed=7)
    again = fit_head(*toy, dropout=0.5, epochs=2, lr=0.01, hidden=32, seed=7)
    assert first == again


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

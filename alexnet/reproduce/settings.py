"""How large every experiment is: the training regimes the claims share, per scale.

A *regime* is one training setting (network, training images, epochs, learning rate and its
fixed schedule, regularisers); a claim compares *arms*, each a regime with one thing changed
(:class:`Arm`). Claims whose effects need the same conditions share a regime, and their baseline
arm trains once:

- ``figure1``: Figure 1's setting (§3.1): the four-layer net, no regularisation of any kind, a
  constant learning rate tuned per activation, epochs to 25% training error.
- ``lrn``: §3.3's CIFAR-10 claim: the four-layer net trained with crops and flips.
- ``overfit``: the claims about overfitting (dropout §4.2, crops and flips §4.1, overlapping
  pooling §3.4) need a net that overfits: :class:`~alexnet.CifarAlexNet` on a small subset for
  many epochs, with the other regularisers (dropout, crops, flips, PCA lighting) off in every arm.
- ``recipe``: the claims about the whole network (two GPUs §3.2, depth §7, PCA lighting and
  ten-patch testing §4.1, Figures 3 and 4): CifarAlexNet with the paper's full recipe (§5).

No schedule reads the test set: learning rates fall by ``lr_factor`` at fixed epochs (the paper
did it by hand when the validation error stopped improving, three times), and the learning rates
of Figure 1 are tuned on a seed (``tuning_seed``) that no test uses. Every model is scored on all
10,000 CIFAR-10 test images once, after training.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["INIT", "Regime", "Arm", "Scale", "SCALES"]

#: The initialisation of every CifarAlexNet the experiments train (:func:`.runs.build`): PyTorch's
#: default, not §5's N(0, 0.01²), with which an 8-layer net this narrow does not leave its starting
#: plateau within a CPU budget. A departure from the paper (:mod:`alexnet.departures`).
INIT = "pytorch"


@dataclass(frozen=True)
class Regime:
    """One training setting shared by the arms of several claims."""

    name: str
    arch: str                        # "cifar" (CifarAlexNet) or "four-layer" (FourLayerCNN)
    train_images: int | None         # spread evenly over the classes; None: all 50,000
    epochs: int
    lr: float
    weight_decay: float = 5e-4       # §5 (0 in Figure 1: "no regularization of any kind")
    augment: bool = True             # §4.1 random crops (of the image padded by 4) and flips
    lighting: bool = True            # §4.1 PCA lighting
    dropout: float = 0.5             # §4.2, CifarAlexNet only
    milestones: tuple[int, ...] = ()  # epochs after which the learning rate is divided by 10
    batch_size: int = 128            # §5
    budget_minutes: float = 30.0     # CPU minutes this regime may take (sets the most seeds)


@dataclass(frozen=True)
class Arm:
    """One arm of a comparison: a regime with some things changed."""

    label: str
    regime: str
    options: tuple = ()              # keyword options of the model, as (name, value) pairs
    remove: str | None = None        # a convolutional layer to take out (§7)
    augment: bool | None = None      # None: the regime's
    lighting: bool | None = None
    dropout: float | None = None

    def key(self) -> tuple:
        return (self.regime, self.options, self.remove, self.augment, self.lighting, self.dropout)


def _steps(epochs: int) -> tuple[int, ...]:
    """Three ÷10 drops, as in the paper, at 50%, 75% and 90% of the epochs."""
    return tuple(sorted({max(1, round(epochs * f)) for f in (0.5, 0.75, 0.9)} - {epochs}))


@dataclass(frozen=True)
class Scale:
    """Every regime at one size, the Figure 1 search, and how seeds are chosen."""

    name: str
    regimes: dict = field(hash=False)
    test_images: int | None = None   # None: all 10,000
    relu_target: float = 0.25        # Figure 1: epochs to 25% training error
    relu_budget: int = 40            # most epochs a Figure 1 run gets
    relu_tune_epochs: int = 20       # most epochs of a run of the learning-rate search
    relu_lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    tuning_seed: int = 1000          # the learning-rate search's seed; tests use 0, 1, 2, ...
    pilot_seeds: int = 3             # seeds of each regime's baseline run before choosing n
    min_seeds: int = 3
    max_seeds: int = 10
    converge_error: float = 0.25     # §4.2's convergence: epochs to this training error
    neighbours_k: int = 5            # Figure 4: neighbours counted per query
    neighbour_queries: int = 1000    # test images whose neighbours are searched
    device: str = "cpu"

    def regime(self, name: str) -> Regime:
        return self.regimes[name]


def _regimes(figure1_images, lrn, overfit, recipe, budgets, reference) -> dict:
    lrn_images, lrn_epochs = lrn
    overfit_images, overfit_epochs = overfit
    recipe_images, recipe_epochs = recipe
    four_images, four_epochs, cifar_images, cifar_epochs = reference
    return {
        # the reference run (alexnet.reproduce.reference): all of CIFAR-10, one seed
        "reference-four": Regime("reference-four", "four-layer", four_images, four_epochs,
                                 lr=0.001, weight_decay=0.004, lighting=False, dropout=0.0,
                                 milestones=_steps(four_epochs)),
        "reference-cifar": Regime("reference-cifar", "cifar", cifar_images, cifar_epochs,
                                  lr=0.01, milestones=_steps(cifar_epochs)),
        "figure1": Regime("figure1", "four-layer", figure1_images, epochs=40, lr=0.0,
                          weight_decay=0.0, augment=False, lighting=False, dropout=0.0,
                          budget_minutes=budgets[0]),
        "lrn": Regime("lrn", "four-layer", lrn_images, lrn_epochs, lr=0.001, weight_decay=0.004,
                      lighting=False, dropout=0.0, milestones=_steps(lrn_epochs),
                      budget_minutes=budgets[1]),
        "overfit": Regime("overfit", "cifar", overfit_images, overfit_epochs, lr=0.01,
                          augment=False, lighting=False, dropout=0.0,
                          milestones=_steps(overfit_epochs), budget_minutes=budgets[2]),
        "recipe": Regime("recipe", "cifar", recipe_images, recipe_epochs, lr=0.01,
                         milestones=_steps(recipe_epochs), budget_minutes=budgets[3]),
    }


SCALES = {
    "test": Scale("test", _regimes(256, (256, 2), (256, 2), (256, 2), (1, 1, 1, 1),
                                   (256, 2, 256, 2)),
                  test_images=256, relu_budget=3, relu_tune_epochs=2, relu_lrs=(1e-2, 3e-2),
                  relu_target=0.85, pilot_seeds=2, min_seeds=2, max_seeds=2, converge_error=0.85,
                  neighbour_queries=32),
    "cpu": Scale("cpu", _regimes(10_000, (10_000, 20), (4_000, 30), (10_000, 15),
                                 (25, 20, 45, 55), (None, 30, None, 40))),
    "gpu": Scale("gpu", _regimes(None, (None, 40), (10_000, 60), (None, 40),
                                 (6, 6, 6, 12), (None, 60, None, 80)), min_seeds=5, max_seeds=12,
                 device="cuda"),
}


def with_overrides(scale: Scale, regime: str, **changes) -> Scale:
    """``scale`` with one regime changed (for small live runs in the book)."""
    regimes = dict(scale.regimes)
    regimes[regime] = replace(regimes[regime], **changes)
    return replace(scale, regimes=regimes)

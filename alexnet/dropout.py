r"""Dropout (§4.2): the paper's version next to PyTorch's, and a run that shows what it is for.

"[Dropout] consists of setting to zero the output of each hidden neuron with probability 0.5. [...]
At test time, we use all the neurons but multiply their outputs by 0.5, which is a reasonable
approximation to taking the geometric mean of the predictive distributions produced by the
exponentially-many dropout networks." AlexNet applies it to the outputs of fc6 and fc7 (after their
ReLU); without it the network "exhibits substantial overfitting", and with it training takes
"roughly double the number of iterations" to converge.

Two ways to keep a unit's expected output the same in training and at test time, with drop
probability :math:`p` and a mask :math:`m_i \sim \mathrm{Bernoulli}(1 - p)`:

- the paper's (cuda-convnet2's ``dropout2``), :class:`PaperDropout`: train :math:`y = m \odot x`,
  test :math:`y = (1 - p)\,x`; :math:`\mathbb{E}[y] = (1 - p)\,x` both times;
- "inverted" dropout (``torch.nn.Dropout``, Caffe, cuda-convnet2's ``dropout``): train
  :math:`y = m \odot x / (1 - p)`, test :math:`y = x`; :math:`\mathbb{E}[y] = x` both times.

The two give the same network up to a factor :math:`1 - p` on the next layer's weights, so the
trained weights differ but the predictions do not. (With SGD and weight decay the two do not train
identically step for step: the decay pulls on weights of different sizes.)

**Which one the models use.** The paper's: :class:`~alexnet.AlexNet`, :class:`~alexnet.CifarAlexNet`,
:class:`~alexnet.TwoTowerAlexNet` and :func:`fc_head` build :class:`PaperDropout` by default, and
``dropout_style="inverted"`` gives ``torch.nn.Dropout`` instead (:func:`dropout_layer`). The style is
part of a model's ``config``, so a checkpoint rebuilds the model it was trained with; checkpoints
written before the option existed were trained with ``nn.Dropout`` and are rebuilt that way.

:func:`fc_head` and :func:`fit_head` train AlexNet's fully-connected part alone (fc6–fc8, where
the paper puts dropout and where 96% of its parameters sit) on fixed inputs, measuring the training
error with dropout switched off, as the test error is: the gap between the two is the overfitting.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .errors import AlexNetError
from .train import TrainConfig, Trainer

__all__ = ["DROPOUT_STYLES", "PaperDropout", "dropout_layer", "fc_head", "fit_head", "TensorBatches"]

#: ``dropout_style`` of the models: §4.2's (the default) or PyTorch's inverted dropout.
DROPOUT_STYLES = ("paper", "inverted")


class PaperDropout(nn.Dropout):
    """§4.2 as written: zero each output with probability ``p`` in training (no rescaling), and
    multiply every output by ``1 - p`` at test time (0.5 in the paper).

    A subclass of ``nn.Dropout``, so code that looks for dropout layers (``isinstance(m,
    nn.Dropout)``, ``m.p``) finds it; only the scaling differs."""

    def __init__(self, p: float = 0.5) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise AlexNetError(f"dropout probability p must be in [0, 1), got {p!r}")
        super().__init__(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x * (1 - self.p)
        if self.p == 0:
            return x
        # The same draw as nn.Dropout's (a Bernoulli(1 - p) mask), without its 1 / (1 - p).
        return x * torch.empty_like(x).bernoulli_(1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def dropout_layer(p: float, style: str = "paper") -> nn.Module:
    """A dropout layer with drop probability ``p``: :class:`PaperDropout` (§4.2, ``"paper"``) or
    ``nn.Dropout`` (``"inverted"``)."""
    if style not in DROPOUT_STYLES:
        raise AlexNetError(f"dropout_style must be 'paper' (§4.2: ×(1 − p) at test time) or "
                           f"'inverted' (nn.Dropout), got {style!r}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise AlexNetError(f"dropout must be a probability in [0, 1), got {p!r}")
    return PaperDropout(p) if style == "paper" else nn.Dropout(p)


def fc_head(in_features: int, hidden: int = 512, num_classes: int = 10,
            dropout: float = 0.5, dropout_style: str = "paper") -> nn.Sequential:
    """AlexNet's classifier (fc6 → ReLU → dropout → fc7 → ReLU → dropout → fc8, §3.5, §4.2) on
    ``in_features`` inputs; ``hidden`` is 4096 in the paper, 512 in :class:`~alexnet.CifarAlexNet`.
    Dropout is the paper's (×(1 − p) at test time) unless ``dropout_style="inverted"``."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                         dropout_layer(dropout, dropout_style),
                         nn.Linear(hidden, hidden), nn.ReLU(), dropout_layer(dropout, dropout_style),
                         nn.Linear(hidden, num_classes))


class TensorBatches:
    """Minibatches of fixed ``(N, D)`` inputs and their labels, reshuffled every pass (from
    PyTorch's global generator) when ``shuffle``: a loader for :meth:`~alexnet.train.Trainer.fit`."""

    def __init__(self, x: Tensor, y: Tensor, batch_size: int, shuffle: bool = True) -> None:
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.x)) if self.shuffle else torch.arange(len(self.x))
        for batch in order.split(self.batch_size):
            yield self.x[batch], self.y[batch]


def fit_head(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *,
             dropout: float = 0.5, epochs: int = 20, lr: float = 1e-4, batch_size: int = 64,
             momentum: float = 0.9, weight_decay: float = 5e-4, hidden: int = 512,
             seed: int = 0, dropout_style: str = "paper",
             device: str | torch.device | None = None) -> list[dict]:
    """Train :func:`fc_head` on fixed (N, D) inputs with §5's SGD (decay on weights only) at a
    constant ``lr``, through :meth:`~alexnet.train.Trainer.fit` on ``device`` (default: the
    inputs' device); after every epoch measure the training and test error with dropout off (eval
    mode), for the curves (no decision reads them). Returns one dict per epoch: ``epoch``,
    ``train_loss`` (running, dropout on), ``train_error``, ``test_error``, ``gap`` (test − train).
    Reproducible from ``seed`` (weights, order and masks)."""
    torch.manual_seed(seed)
    model = fc_head(train_x.shape[1], hidden, int(train_y.max()) + 1, dropout, dropout_style)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                         weight_decay=weight_decay, schedule="step", seed=seed, progress=False,
                         reseed=False)
    trainer = Trainer(model, config, train_x.device if device is None else device)
    scored = {"clean": TensorBatches(train_x, train_y, 1024, shuffle=False),
              "test": TensorBatches(test_x, test_y, 1024, shuffle=False)}
    history = trainer.fit(TensorBatches(train_x, train_y, batch_size), evaluate=scored)
    return [{"epoch": row["epoch"], "train_loss": row["train_loss"],
             "train_error": row["clean_top1"], "test_error": row["test_top1"],
             "gap": row["test_top1"] - row["clean_top1"]} for row in history]

"""Where this package departs from the paper, or decides what the paper leaves open, as data.

:func:`departures` returns one dict per decision: ``name``, ``paper`` (what the paper says, with its
section), ``ours`` (what the code does), ``why``, and ``setting``, the code's own current value,
read from the code when this is called (a default argument, a module constant, a module built for
the purpose), never typed here, so the list cannot drift from the code. Each decision is also
documented in the docstring next to the code that makes it. The book shows the list as its
"Departures from the paper" box; :func:`as_markdown` renders it as a table.
"""
from __future__ import annotations

import inspect
from dataclasses import fields

import torch
from torch import nn

__all__ = ["departures", "as_markdown"]


def _default(callable_, name: str):
    return inspect.signature(callable_).parameters[name].default


def _small_alexnet():
    """An AlexNet with every default option, at a width of 2 maps (it builds in a millisecond)."""
    from .model import AlexNet

    return AlexNet(2, channels=(2, 2, 2, 2, 2), hidden=2, init="pytorch")


def departures() -> list[dict]:
    """The package's departures from the paper and its readings of what the paper leaves open.
    The models it builds to read their settings draw weights inside :func:`torch.random.fork_rng`:
    torch's global random state is as the caller left it."""
    with torch.random.fork_rng(devices=[]):
        return _departures()


def _departures() -> list[dict]:
    from .lrn import LocalResponseNorm
    from .model import AlexNet
    from .reproduce import INIT as experiments
    from .train import TrainConfig, parameter_groups
    from .transforms import IMAGENET_MEAN, PCALighting

    config = {f.name: f.default for f in fields(TrainConfig)}
    small = _small_alexnet()
    pad = small.features[0].padding
    norms = [m for m in small.modules() if isinstance(m, LocalResponseNorm)]
    decay = {g["name"]: g["weight_decay"]
             for g in parameter_groups(nn.Linear(1, 1), config["weight_decay"])}
    mean = ", ".join(f"{v:.1f}" for v in IMAGENET_MEAN.tolist())
    return [
        dict(name="Initialisation",
             paper="§5: every weight from N(0, 0.01²); biases 1 in conv2, conv4, conv5, fc6 and "
                   "fc7, 0 elsewhere.",
             ours="The models use the paper's initialisation by default. The CPU- and GPU-scale "
                  "experiments of alexnet.reproduce use PyTorch's default (Kaiming-uniform) "
                  "instead, and say so in every result.",
             why="With std 0.01 and biases of 1 the small network stays on its starting plateau "
                 "for longer than a CPU budget of a few epochs allows.",
             setting=f"models: init={_default(AlexNet, 'init')!r}; "
                     f"alexnet.reproduce: init={experiments!r}"),
        dict(name="Dropout at test time",
             paper="§4.2: drop each output of fc6 and fc7 with probability 0.5 while training; at "
                   "test time use every neuron and multiply its output by 0.5.",
             ours="The paper's dropout (PaperDropout) by default; dropout_style='inverted' gives "
                  "PyTorch's nn.Dropout (×2 while training, nothing at test time).",
             why="Faithful by default. The two give the same predictions in expectation; only "
                 "the scale of the trained weights differs.",
             setting=f"dropout={_default(AlexNet, 'dropout')}, "
                     f"dropout_style={_default(AlexNet, 'dropout_style')!r}"),
        dict(name="Mean subtraction",
             paper="§2: subtract the mean activity over the training set from each pixel (a mean "
                   "image, one value per pixel and colour).",
             ours="CIFAR-10 and images packed by `alexnet pack` subtract the per-pixel mean image "
                  "of their training set. Folders of JPEGs decoded on the fly subtract "
                  "torchvision's per-channel ImageNet mean.",
             why="The per-pixel mean needs a full decoding pass over the training set before the "
                 "first step (1.2 million JPEGs for ImageNet); packing makes that pass anyway, so "
                 "it computes the mean there. ImageNet's mean image is nearly flat.",
             setting=f"image folders: per-channel mean ({mean}) on the 0-255 scale; CIFAR-10 and "
                     "packed files: per-pixel mean image"),
        dict(name="Weight decay on biases",
             paper="§5: the update rule decays the weights w by 0.0005·ε·w; it does not mention "
                   "biases.",
             ours="Weight decay applies to the weights only: the optimizer has a 'weights' group "
                  "(decayed) and a 'biases' group (not decayed).",
             why="Krizhevsky's cuda-convnet sets its decay (wc) on weights only (its "
                 "layer-parameter files, e.g. cuda-convnet2's layer-params-imagenet-1gpu.cfg); "
                 "PyTorch's SGD would decay the biases too.",
             setting=", ".join(f"{k}: weight_decay={v:g}" for k, v in decay.items())),
        dict(name="When the learning rate drops",
             paper="§5: divide the learning rate by 10 when the validation error stops improving "
                   "with the current rate, three times before the end; decided by hand.",
             ours="The default schedule, 'plateau', divides it by 1/lr_factor once the validation "
                  "top-1 error has not improved for more than `patience` epochs, at most "
                  "max_lr_drops times. The 'step' schedule divides it after fixed epoch counts "
                  "instead.",
             why="A judgement by eye needs a rule. One epoch's validation error moves by noise "
                 "alone, so the rule waits several epochs; the step schedule reads no data, for "
                 "experiments that must never look at their test set.",
             setting=f"schedule={config['schedule']!r}, patience={config['patience']}, "
                     f"lr_factor={config['lr_factor']}, max_lr_drops={config['max_lr_drops']}"),
        dict(name="224 inputs and conv1",
             paper="§3.5: 224×224×3 inputs filtered by 96 kernels of 11×11 with stride 4, giving "
                   "the 55×55 maps of Figure 2; but (224 − 11) / 4 + 1 = 54.25.",
             ours="224 inputs, zero-padded by 3 pixels on the right and bottom edges before an "
                  "unpadded conv1: 55×55 maps, as Krizhevsky's cuda-convnet computed them.",
             why="Krizhevsky's cuda-convnet counts 1 + ceil((224 − 11) / 4) = 55 positions, so "
                 "its last filter column and row run 3 pixels past the image (its layer.py). "
                 "Caffe used 227 inputs, torchvision padding 2.",
             setting=f"image_size={AlexNet.image_size}, conv1 zero pad (left, right, top, "
                     f"bottom)={tuple(pad)}"),
        dict(name="LRN across the two GPUs",
             paper="§3.3: the sum runs over n adjacent kernel maps, clipped to 0..N−1, where N is "
                   "\"the total number of kernels in the layer\".",
             ours="With groups=2 each half of the maps (one GPU's) is normalised on its own: the "
                  "window stops at the boundary between the halves.",
             why="An inference: each GPU held only its own maps, and Krizhevsky's cuda-convnet2 "
                 "two-GPU configuration (layers-imagenet-2gpu-model.cfg) normalises each GPU's "
                 "maps separately. groups=1 reads the paper literally.",
             setting=f"LocalResponseNorm groups={sorted({m.groups for m in norms})} in AlexNet "
                     f"(groups={_default(AlexNet, 'groups')})"),
        dict(name="LRN's α",
             paper="§3.3: b = a / (k + α Σ a²)^β with k = 2, n = 5, α = 10⁻⁴, β = 0.75: α "
                   "multiplies the sum of squares.",
             ours="Our alpha multiplies the sum, as the formula is written. PyTorch, Caffe and "
                  "cuda-convnet divide their alpha by n first, so their alpha=1e-4 is 5× weaker.",
             why="Which of the two the 2012 run used cannot be settled from the public code; "
                 "we follow the paper's text (torch.nn.LocalResponseNorm with alpha = α·n "
                 "computes the same).",
             setting=", ".join(f"size={m.size}, alpha={m.alpha:g}, beta={m.beta}, k={m.k}"
                               for m in norms[:1])),
        dict(name="PCA colour noise",
             paper="§4.1: add [p1 p2 p3][α1λ1, α2λ2, α3λ3]ᵀ to every pixel, αi ~ N(0, 0.1), with "
                   "λ the eigenvalues of the RGB covariance of the ImageNet training set.",
             ours="The shift is α·λ as written, with λ on the 0–1 pixel scale (fb.resnet.torch's ImageNet "
                  "eigenvalues): about 5.5 grey levels (of 255) along the first component.",
             why="The paper never published its eigen-decomposition, and α·λ depends on the pixel "
                 "scale. Krizhevsky's cuda-convnet2 multiplied α by √λ instead (about 12 grey "
                 "levels); sqrt=True does that.",
             setting=f"alphastd={_default(PCALighting, 'alphastd')}, "
                     f"sqrt={_default(PCALighting, 'sqrt')}"),
    ]


def as_markdown(rows: list[dict] | None = None) -> str:
    """The departures as a Markdown table (what the paper says, what we do, why, the setting)."""
    rows = departures() if rows is None else rows
    cell = (lambda text: str(text).replace("|", "\\|"))
    lines = ["| | the paper | this package | why | setting |", "|---|---|---|---|---|"]
    lines += [f"| **{cell(r['name'])}** | {cell(r['paper'])} | {cell(r['ours'])} | "
              f"{cell(r['why'])} | `{cell(r['setting'])}` |" for r in rows]
    return "\n".join(lines)

# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Architecture
#
# "The net contains eight layers with weights; the first five are convolutional and the remaining
# three are fully-connected. The output of the last fully-connected layer is fed to a 1000-way
# softmax which produces a distribution over the 1000 class labels" (§3.5 of {cite:t}`krizhevsky2012`). Between them sit the
# pieces the next chapters take apart one by one: ReLU units after every layer ([chapter 2](02_relu.ipynb)), response
# normalisation after the first two convolutions ([chapter 3](03_lrn.ipynb)), overlapping max-pooling ([chapter 4](04_pooling.ipynb)),
# dropout in the first two fully-connected layers ([chapter 5](05_dropout.ipynb)), and a split of every layer into two
# halves, one per GPU ([chapter 7](07_two_gpus.ipynb)).
#
# This chapter first shows a trained AlexNet at work on CIFAR-10, then builds the whole network
# from `alexnet.AlexNet`, counts where its parameters and its arithmetic sit, and draws it.
# [Section 1.1](01b_input_size.ipynb) settles a puzzle in the paper's own numbers: a 224-pixel
# input that cannot produce the 55×55 maps of Figure 2.

# %% [markdown]
# ## Settings
#
# The chapter runs in a few minutes on a CPU: one cell trains a small network for 5 epochs.
# With `FULL_SIZE = True` in Colab with a GPU, that cell runs the whole recipe (40 epochs on
# 45,000 images).

# %%
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch import nn

import alexnet
from alexnet import analysis, data, summary, viz
from alexnet.loaders import build_loaders
from alexnet.train import TrainConfig, Trainer

viz.use_book_style()
FULL_SIZE = False  # <- True in Colab with a GPU: the whole recipe there

use_gpu = FULL_SIZE and torch.cuda.is_available()
device = torch.device("cuda" if use_gpu else "cpu")
print("device:", device)

# %% [markdown]
# ## AlexNet at work
#
# Before taking the network apart, see it work. The package ships a trained
# `alexnet.CifarAlexNet`: AlexNet's eight layers, narrowed for CIFAR-10's 32-pixel images,
# trained with the paper's recipe (§5) on 45,000 CIFAR-10 training images, with 5,000 more held
# out to watch it learn. `weights="cifar10"` loads it, as torchvision's `weights=` does, and the
# weights carry the preprocessing they were trained with (§2: subtract the training images' mean).

# %% tags=["nbval-ignore-output"]
trained = alexnet.CifarAlexNet(weights="cifar10").eval()
card = trained.weights.meta                  # how the weights were made
test_set = data.cifar10(train=False)     # 10,000 images, never trained on
preprocess = trained.weights.transforms()
with torch.no_grad():
    scores = torch.cat([trained(preprocess(part))
                        for part in test_set.images.split(500)])
predicted = scores.argmax(1)
print(f"test error: {(predicted != test_set.targets).float().mean():.1%}")

# %% tags=["remove-input"]
measured = (predicted != test_set.targets).float().mean().item()
assert abs(measured - card["test"]["top1_error"]) < 5e-4   # the card's
viz.glue("cifar-error", f"{card['test']['top1_error']:.1%}")
viz.glue("cifar-top5-error", f"{card['test']['top5_error']:.1%}")
viz.glue("cifar-epochs", str(card["epochs"]))
viz.glue("cifar-params", f"{card['num_params']:,}")

# %% [markdown]
# It names the wrong class for {glue:}`cifar-error` of the test images (guessing would miss 90%),
# and the right class is among its five most probable for all but {glue:}`cifar-top5-error`.
# {numref}`fig-cifar-curves` shows how it got there over {glue:}`cifar-epochs` epochs: the error
# on its training images and on the held-out ones, falling in steps where the learning rate was
# divided by 10.

# %% mystnb={"figure": {"name": "fig-cifar-curves", "caption": "Training and held-out error of the shipped CifarAlexNet, epoch by epoch (from its weights' card). The steps come at epochs 20, 30 and 36, where the learning rate is divided by 10."}, "image": {"alt": "Two curves of error per epoch, training and held-out, both falling from about 70% to about 18-19%, with drops after epochs 20, 30 and 36."}}
curves = {name: [{"epoch": row["epoch"], "top1": row[key]}
                 for row in card["curve"]]
          for name, key in (("training images", "train_top1"),
                            ("held-out images", "val_top1"))}
viz.plot_curves(curves, key="top1", ylabel="error (%)")
plt.legend()
plt.show()

# %% [markdown]
# Which classes does it confuse? Each row of {numref}`fig-cifar-confusion` is a true class, each
# column the class predicted, as a share of the row:

# %% mystnb={"figure": {"name": "fig-cifar-confusion", "caption": "Confusion matrix of the shipped CifarAlexNet on the 10,000 CIFAR-10 test images."}, "image": {"alt": "A 10 by 10 matrix of shares, dark on the diagonal; the largest errors off it are between cat and dog and among the animal classes."}}
confusion = torch.bincount(test_set.targets * 10 + predicted,
                           minlength=100).view(10, 10)
viz.plot_confusion(confusion, test_set.classes)
plt.show()

# %% [markdown]
# And its five best guesses for eight test images ({numref}`fig-cifar-top5`), as the paper's
# Figure 4 shows them for ImageNet:

# %% mystnb={"figure": {"name": "fig-cifar-top5", "caption": "The shipped CifarAlexNet's five most probable classes for eight CIFAR-10 test images; the true class is under each image, and red among the bars when the network has it in its top five."}, "image": {"alt": "Eight CIFAR-10 test images in two rows of four, each with its true class under it and, below, five bars labelled with the network's most probable classes."}}
def top5(shown):
    """Figure 4's panels for the test images at the indices ``shown``."""
    with torch.no_grad():
        probabilities, classes = analysis.top_k_predictions(
            trained, preprocess(test_set.images[shown]))
    return viz.plot_top5(test_set.images[shown], classes, probabilities,
                         test_set.classes, test_set.targets[shown])


top5(torch.arange(0, 10_000, 1250))
plt.show()

# %% tags=["remove-input"]
# The same figure for the introduction's "See it work first"
viz.glue("cifar-top5-figure", top5(torch.arange(0, 10_000, 1250)),
         alt="Eight CIFAR-10 test images in two rows of four, each with its "
             "true class under it and, below, five bars labelled with the "
             "shipped network's most probable classes.")

# %% [markdown]
# In Colab or Jupyter, the slider below pages through the whole test set, eight images at a time.

# %% tags=["remove-output"]
viz.interactive_figure(
    lambda first: top5(torch.arange(first, first + 8)),
    first=widgets.IntSlider(0, min=0, max=9_992, step=8,
                            description="first image"))

# %% [markdown]
# ### Train one yourself
#
# The shipped weights took {glue:}`cifar-epochs` epochs over 45,000 images. The cell below runs
# the same recipe, with the loaders `alexnet train` uses (crops, flips, PCA lighting, 5,000
# held-out training images), on 5,000 images for 5 epochs, a few minutes on a CPU; with `FULL_SIZE = True`
# in Colab with a GPU it runs the whole recipe. Its numbers vary from machine to machine, so the
# book's tests only check that it learns.

# %% tags=["nbval-ignore-output"]
IMAGES, EPOCHS = (45_000, 40) if FULL_SIZE else (5_000, 5)
train_loader, val_loader, _ = build_loaders(   # as `alexnet train` does
    "cifar10", 128, device=device, train_subset=IMAGES, val_images=5_000)
config = TrainConfig(epochs=EPOCHS, schedule="step",
                     milestones=(20, 30, 36), progress=False)
torch.manual_seed(0)
live = alexnet.CifarAlexNet(init="pytorch")
history = Trainer(live, config, device).fit(train_loader, val_loader)
error = history[-1]["val_top1"]
print(f"held-out error after {EPOCHS} epochs: {error:.1%}")

# %% tags=["remove-input"]
assert history[-1]["val_top1"] < 0.85      # better than guessing (90%)

# %% [markdown]
# ## Eight layers with weights
#
# `alexnet.AlexNet()` builds the network of §3.5 with the paper's options: ReLU, local response
# normalisation, overlapping pooling, dropout 0.5, the two-GPU connectivity, and the initialisation
# of §5 (weights from $\mathcal N(0, 0.01^2)$, some biases 1). Its layout follows torchvision's
# AlexNet: `features` holds the convolutional part, `classifier` the fully-connected part.

# %%
torch.manual_seed(0)
model = alexnet.AlexNet()
print(viz.wrapped(str(model)))

# %% [markdown]
# Reading the printout from the top:
#
# - `ZeroPad2d((0, 3, 0, 3))` pads the image by 3 pixels on the right and at the bottom. The paper
#   has no such layer; it is our answer to the 224 vs 227 puzzle of
#   [section 1.1](01b_input_size.ipynb).
# - `Conv2d(3, 96, kernel_size=(11, 11), stride=(4, 4))` is conv1: "96 kernels of size 11×11×3
#   with a stride of 4 pixels" (§3.5).
# - `groups=2` in conv2, conv4 and conv5 is the two-GPU connectivity: "the kernels of the second,
#   fourth, and fifth convolutional layers are connected only to those kernel maps in the previous
#   layer which reside on the same GPU" (§3.5). conv3 and the fully-connected layers see everything.
# - The LRN layers have `groups=2` too: each half of the maps is normalised on its own. That is
#   our reading, not the paper's text: §3.3 sums over neighbouring maps up to "the total number of
#   kernels in the layer", while Krizhevsky's later two-GPU configuration (cuda-convnet2)
#   normalises 48 and 128 maps per GPU. [Chapter 3](03_lrn.ipynb) shows which maps this changes; [chapter 8](08_results.ipynb) lists it
#   among the {ref}`departures from the paper <departures>`.
# - `MaxPool2d(kernel_size=3, stride=2)` is overlapping pooling, $z = 3$, $s = 2$ (§3.4).
# - The dropout layers follow fc6 and fc7 (§4.2). fc8's 1000 outputs are the logits of the
#   softmax.

# %% [markdown]
# ## Shapes, parameters and multiply-adds
#
# `alexnet.summary.layer_table` runs one 224×224 image through the model with a hook on every
# layer and records each layer's output shape, its parameters, and its multiply-adds (MACs): a
# convolution costs $k \cdot k \cdot C_\text{in}/\text{groups}$ MACs for each value it outputs,
# a fully-connected layer one per weight. Nothing in the table is typed in.

# %%
rows = summary.layer_table(model)
display(viz.markdown_table(summary.table_records(rows), align="llrrrr"))

# %%
weighted = [r for r in rows if r.params]
params = sum(r.params for r in weighted)
macs = sum(r.macs for r in weighted)
fc_params = sum(r.params for r in weighted if r.name.startswith("fc"))
conv_macs = sum(r.macs for r in weighted if r.name.startswith("conv"))
fc6 = next(r for r in weighted if r.name == "fc6")

# %% tags=["remove-input"]
viz.glue("parameters", f"{params:,}")
viz.glue("fc-share", f"{fc_params / params:.0%}")
viz.glue("conv-mac-share", f"{conv_macs / macs:.0%}")
viz.glue("macs-per-image", f"{macs / 1e6:,.0f} million")
viz.glue("fc6-share", f"{fc6.params / params:.0%}")
assert params == 60_965_224

# %% [markdown]
# The network has {glue:}`parameters` parameters, the paper's "60 million". The two halves of the
# network are opposites. The three fully-connected layers hold {glue:}`fc-share` of the
# parameters but do little of the arithmetic; the five convolutional layers do
# {glue:}`conv-mac-share` of the {glue:}`macs-per-image` multiply-adds per image with few
# parameters, because each kernel is reused at every position of its map. fc6 alone, which
# connects the 256×6×6 pooled maps to 4096 units, holds {glue:}`fc6-share` of the network. The
# paper's dropout, its main weapon against overfitting, sits in the fully-connected layers, where
# the parameters are ([chapter 5](05_dropout.ipynb)), and the asymmetry is the idea of Krizhevsky's 2014 follow-up on
# spreading the network over GPUs ([chapter 7](07_two_gpus.ipynb)).
#
# Three more of the paper's numbers can be checked against the table:

# %%
neurons = [math.prod(r.output) for r in weighted]
conv_share = {r.name: r.params / params for r in weighted
              if r.name.startswith("conv")}
largest = max(conv_share, key=conv_share.get)

# %% tags=["remove-input"]
viz.glue("neurons", f"{sum(neurons):,}")
viz.glue("conv1-neurons", f"{neurons[0]:,}")
viz.glue("largest-conv", largest)
viz.glue("largest-conv-share", f"{conv_share[largest]:.2%}")
assert sum(neurons) == 659_272 and neurons[0] == 290_400

# %% [markdown]
# - The eight layers have {glue:}`neurons` neurons; the abstract says "650,000".
# - Figure 2's caption lists 253,440 neurons for the first layer, a number that fits no
#   consistent map size: 55×55×96 is {glue:}`conv1-neurons`. The rest of the caption
#   (186,624–64,896–64,896–43,264–4096–4096–1000) matches the table.
# - §1 says each convolutional layer holds "no more than 1% of the model's parameters", but
#   {glue:}`largest-conv` holds {glue:}`largest-conv-share`.
#
# Neither slip changes anything else in the paper.

# %% [markdown]
# ## A picture of the network
#
# Figure 2 of the paper draws the network as two streams, one per GPU. `viz.draw_architecture`
# redraws it from the live model ({numref}`fig-architecture`), top to bottom: one box per layer and GPU, wider where the maps
# are larger, labelled with the maps each GPU holds; the parameters of each layer on the right and
# the operations after it on the left; a red arrow wherever data crosses from one GPU to the other.

# %% mystnb={"figure": {"name": "fig-architecture", "caption": "AlexNet drawn from the live model, as the paper's Figure 2 draws it: one column per GPU, the maps each GPU holds per layer, the parameters on the right, and red arrows where data crosses between the GPUs."}, "image": {"alt": "AlexNet drawn from the live model as two columns of boxes, GPU 1 and GPU 2, from the 3x224x224 input at the top through conv1 to fc7 in each column, then one fc8 box. Red arrows cross between the columns only on the way into conv3, fc6, fc7 and fc8; fc6 alone holds 37.75 million parameters."}}
viz.draw_architecture(model)
plt.show()

# %% [markdown]
# The GPUs exchange data in four places only: on the way into conv3, fc6, fc7 and fc8. Everywhere
# else each GPU works on its own half, which is what made the network fit on two 3 GB cards
# (§3.2). [Chapter 7](07_two_gpus.ipynb) puts the two halves on two devices and proves that the result equals the
# grouped model built here.

# %% [markdown]
# ## Summary
#
# - `alexnet.AlexNet()` is the network of §3.5: five convolutional layers (conv2, conv4 and conv5
#   split between the two GPUs), three fully-connected layers, and the paper's "60 million
#   parameters" counted exactly: {glue:}`parameters`.
# - The fully-connected layers hold nearly all the parameters, the convolutional layers do nearly
#   all the arithmetic.
# - The paper's 224-pixel input does not give 55×55 maps by its own formula; we pad 3 pixels on
#   the right and bottom, as Krizhevsky's cuda-convnet effectively did
#   ([section 1.1](01b_input_size.ipynb)).
# - Trained on CIFAR-10 with the paper's recipe, its 32-pixel sibling `CifarAlexNet` reaches
#   {glue:}`cifar-error` test error.

# %% tags=["remove-cell"]
# The numbers of the exercises' solutions (this cell is not shown on the page).
ungrouped = sum(p.numel() for p in alexnet.AlexNet(groups=1).parameters())
viz.glue("answer-ungrouped-extra", f"{ungrouped - params:,}")
viz.glue("answer-ungrouped-share", f"{(ungrouped - params) / params:.1%}")
# exercise 2: float32 weights, gradients and momentum; every layer's output for a batch of 128
state = 3 * 4 * params / 2
kept = 4 * 128 * sum(math.prod(r.output) for r in rows) / 2
viz.glue("answer-state-mb", f"{state / 2**20:,.0f}")
viz.glue("answer-kept-mb", f"{kept / 2**20:,.0f}")
viz.glue("answer-gpu-gb", f"{(state + 2 * kept) / 2**30:.1f}")
viz.glue("answer-both-gb", f"{2 * (state + 2 * kept) / 2**30:.1f}")
# exercise 3: the receptive field r and the step j of a conv5 unit, layer by layer
field, jump, layers = 1, 1, list(model.features)
last_conv = max(i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d))
for m in layers[:last_conv + 1]:
    if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
        k, step = (v if isinstance(v, int) else v[0]
                   for v in (m.kernel_size, m.stride))
        field, jump = field + (k - 1) * jump, jump * step
viz.glue("answer-field", str(field))
viz.glue("answer-jump", str(jump))

# %% [markdown]
# ## Exercises
#
# 1. **One GPU, no groups.** Build `alexnet.AlexNet(groups=1)`, the network as one GPU would hold
#    it, and compare its parameter count with the grouped one. Which layers grow, and by how much?
#
#    :::{dropdown} Hint
#    A grouped convolution connects each output map to $C_\text{in}/\text{groups}$ input maps.
#    :::
#
#    :::{dropdown} Solution
#    conv2, conv4 and conv5 double their weights (not their biases): each of their kernels now
#    reads all the maps below it. That adds 5·5·48·256 + 3·3·192·384 + 3·3·192·256 =
#    {glue:}`answer-ungrouped-extra` weights, {glue:}`answer-ungrouped-share` more.
#
#    ```python
#    one = summary.layer_table(alexnet.AlexNet(groups=1))
#    for a, b in zip(summary.layer_table(model), one):
#        if a.params != b.params:
#            print(a.name, a.params, "->", b.params)
#    ```
#    :::
#
# 2. **Memory per GPU in 2012.** A GTX 580 had 3 GB. Estimate what one of the two held while
#    training with batches of 128: its half of the weights with their gradients and momentum
#    (float32), its half of every layer's output for the batch (kept for the backward pass), and
#    as much again for the gradients of those outputs. Would the whole network have fitted on one
#    card?
#
#    :::{dropdown} Hint
#    `summary.layer_table(model)` gives every layer's output shape for one image and its
#    parameters; multiply by 4 bytes.
#    :::
#
#    :::{dropdown} Solution
#    Weights, gradients and momentum: $3 \times 4 \times 61\text{M} / 2$ bytes,
#    {glue:}`answer-state-mb` MB per GPU. The outputs of every layer for 128 images:
#    {glue:}`answer-kept-mb` MB per GPU, and as much for their gradients. Together about
#    {glue:}`answer-gpu-gb` GB per card, {glue:}`answer-both-gb` GB for the whole network: on one
#    3 GB card that leaves almost nothing for the input batches, the convolution code's scratch
#    buffers and the CUDA context, which is the limit §3.2 describes. The estimate is a lower
#    bound: a real implementation keeps more intermediate tensors than the layer outputs.
#    :::
#
# 3. **What a conv5 unit sees.** Each conv5 output is computed from a square patch of the input
#    image. How wide is it, and how far apart are the patches of neighbouring conv5 units?
#
#    :::{dropdown} Hint
#    Go from the input up. A layer with kernel $k$ widens the patch by $(k - 1)\,j$ pixels,
#    where $j$ is the product of the strides below it; its own stride multiplies $j$.
#    :::
#
#    :::{dropdown} Solution
#    conv1 sees 11 pixels ($j$ becomes 4), the first pool 11 + 2·4 = 19 ($j$ = 8), conv2 19 + 4·8
#    = 51, the second pool 51 + 2·8 = 67 ($j$ = 16), and conv3, conv4, conv5 add 2·16 each:
#    {glue:}`answer-field` pixels, most of the 224-pixel image, with neighbouring units
#    {glue:}`answer-jump` pixels apart. Every conv5 unit sees nearly the whole object, which is
#    why the fully-connected layers above it can classify from the 6×6 grid left after the
#    last pool.
#    :::

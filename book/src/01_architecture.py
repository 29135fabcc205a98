# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Architecture
#
# "The net contains eight layers with weights; the first five are convolutional and the remaining
# three are fully-connected. The output of the last fully-connected layer is fed to a 1000-way
# softmax which produces a distribution over the 1000 class labels" (§3.5). Between them sit the
# pieces the next chapters take apart one by one: ReLU units after every layer (chapter 2), response
# normalisation after the first two convolutions (chapter 3), overlapping max-pooling (chapter 4),
# dropout in the first two fully-connected layers (chapter 5), and a split of every layer into two
# halves, one per GPU (chapter 6).
#
# This chapter builds the whole network from `alexnet.AlexNet`, counts where its parameters and its
# arithmetic sit, draws it, and settles a puzzle in the paper's own numbers: a 224-pixel input
# that cannot produce the 55×55 maps of Figure 2.

# %% [markdown]
# ## Settings
#
# Nothing in this chapter trains, so it runs in seconds anywhere. The one setting below only
# changes the last section, which times the network: on the CPU with 8 photographs by default;
# with `FULL_SIZE = True` in Colab with a GPU, on the GPU with a batch of 128, the batch size of
# §5.

# %%
import math
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import alexnet
from alexnet import viz
from alexnet.data import imagenet_class_names, imagenet_samples, load_rgb
from alexnet.summary import format_table, layer_table
from alexnet.transforms import IMAGENET_MEAN, eval_transform

FULL_SIZE = False  # <- True in Colab with a GPU: time a batch of 128 on the GPU

device = torch.device("cuda" if FULL_SIZE and torch.cuda.is_available() else "cpu")
print("device:", device)

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
print(model)

# %% [markdown]
# Reading the printout from the top:
#
# - `ZeroPad2d((0, 3, 0, 3))` pads the image by 3 pixels on the right and at the bottom. The paper
#   has no such layer; it is our answer to the 224 vs 227 puzzle below.
# - `Conv2d(3, 96, kernel_size=(11, 11), stride=(4, 4))` is conv1: "96 kernels of size 11×11×3
#   with a stride of 4 pixels" (§3.5).
# - `groups=2` in conv2, conv4 and conv5 is the two-GPU connectivity: "the kernels of the second,
#   fourth, and fifth convolutional layers are connected only to those kernel maps in the previous
#   layer which reside on the same GPU" (§3.5). conv3 and the fully-connected layers see everything.
#   The LRN layers have `groups=2` too: each GPU normalised only the maps it held.
# - `MaxPool2d(kernel_size=3, stride=2)` is overlapping pooling, $z = 3$, $s = 2$ (§3.4).
# - `Dropout(p=0.5)` follows fc6 and fc7 (§4.2). fc8's 1000 outputs are the logits of the softmax.

# %% [markdown]
# ## Shapes, parameters and multiply-adds
#
# `alexnet.summary.layer_table` runs one 224×224 image through the model with a hook on every
# layer and records each layer's output shape, its parameters, and its multiply-adds (MACs): a
# convolution costs $k \cdot k \cdot C_\text{in}/\text{groups}$ MACs for each value it outputs,
# a fully-connected layer one per weight. Nothing in the table is typed in.

# %%
rows = layer_table(model)
print(format_table(rows, weights_only=True))

# %%
weighted = [r for r in rows if r.params]
params = sum(r.params for r in weighted)
macs = sum(r.macs for r in weighted)
fc_params = sum(r.params for r in weighted if r.name.startswith("fc"))
conv_macs = sum(r.macs for r in weighted if r.name.startswith("conv"))
print(f"parameters: {params:,} (the paper: 60 million)")
print(f"fully-connected layers: {fc_params / params:.1%} of the parameters")
print(f"convolutional layers:   {conv_macs / macs:.1%} of the multiply-adds "
      f"({macs / 1e6:.0f} million per image)")

# %% [markdown]
# The two halves of the network are opposites. The three fully-connected layers hold almost all the
# parameters but do little of the arithmetic; the five convolutional layers do almost all the
# arithmetic with few parameters, because each kernel is reused at every position of its map.
# fc6 alone, which connects the 256×6×6 pooled maps to 4096 units, outweighs the rest of the
# network. The paper's dropout, its main weapon against overfitting, sits in the fully-connected
# layers, where the parameters are (chapter 5), and the asymmetry is the idea of Krizhevsky's 2014
# follow-up on spreading the network over GPUs (chapter 6).
#
# Three of the paper's numbers can be checked against the table:

# %%
neurons = [math.prod(r.output) for r in weighted]
conv_share = {r.name: r.params / params for r in weighted if r.name.startswith("conv")}
print(f"neurons in the eight layers: {sum(neurons):,} (abstract: 650,000)")
print(f"conv1 neurons: {neurons[0]:,} (Figure 2's caption: 253,440)")
print("largest share of a convolutional layer:",
      max(conv_share, key=conv_share.get), f"{max(conv_share.values()):.2%}",
      "(§1: 'no more than 1%')")

# %% [markdown]
# The neuron count matches the abstract. Figure 2's caption lists 253,440 neurons for the first
# layer, a number that fits no consistent map size; the rest of the caption
# (186,624–64,896–64,896–43,264–4096–4096–1000) matches the table. And §1 says each convolutional
# layer holds "no more than 1% of the model's parameters", which conv3 slightly exceeds. Neither
# slip changes anything else in the paper.

# %% [markdown]
# ## A picture of the network
#
# Figure 2 of the paper draws the network as two streams, one per GPU. `viz.draw_architecture`
# redraws it from the live model: one block per layer and GPU, its height proportional to the side
# of its output maps, labelled with the maps each GPU holds; a red arrow wherever data crosses from
# one GPU to the other.

# %%
viz.draw_architecture(model)
plt.show()

# %% [markdown]
# The GPUs exchange data in four places only: on the way into conv3, fc6, fc7 and fc8. Everywhere
# else each GPU works on its own half, which is what made the network fit on two 3 GB cards
# (§3.2). Chapter 6 puts the two halves on two devices and proves that the result equals the
# grouped model built here.

# %% [markdown]
# ## The 224 vs 227 puzzle
#
# §3.5 says that "the first convolutional layer filters the 224×224×3 input image with 96 kernels
# of size 11×11×3 with a stride of 4 pixels", and Figure 2 shows 55×55 maps. Along one side, a
# kernel of size $k$ moved in steps of $s$ over $W$ pixels, with $P$ pixels of padding in total,
# fits
#
# $$\frac{W + P - k}{s} + 1$$
#
# times. With the paper's numbers that is not a whole number:

# %%
def positions(width, kernel=11, stride=4, padding=0):
    """How many times a kernel fits along one side: (W + P - k) / s + 1."""
    return (width + padding - kernel) / stride + 1


print("the paper, 224 pixels, no padding:", positions(224))
print("Caffe, 227 pixels, no padding:    ", positions(227))
print("torchvision, 224 + 2 + 2 pixels:  ", positions(224, padding=4),
      "-> PyTorch rounds down to", math.floor(positions(224, padding=4)))
print("cuda-convnet, 224 pixels:          1 + ceil((224 - 11) / 4) =",
      1 + math.ceil((224 - 11) / 4))

# %% [markdown]
# Each popular implementation answers the puzzle differently:
#
# - **Caffe** feeds 227×227 crops, for which the kernel fits exactly 55 times.
# - **torchvision** keeps 224 and pads 2 pixels on every side; the division leaves a remainder,
#   which PyTorch drops, so the last column and row of padding are never used.
# - **cuda-convnet**, Krizhevsky's own code, keeps 224 with no padding but counts the output
#   positions as $1 + \lceil (W - k)/s \rceil$: it only asks that the kernels cover the image.
#   The last kernel column then starts at pixel $4 \cdot 54 = 216$ and covers pixels 216 to 226,
#   three beyond the image's last pixel, 223; there the input counts as zero.
#
# This book follows cuda-convnet, the code the paper's network was trained with: 224×224 crops
# (§4.1's 224 patches of 256), padded with 3 zero pixels on the right and at the bottom. Because
# the mean image has already been subtracted (§2), zero is the average colour, not black. The
# padded input is 227×227, as in Caffe, but the three extra rows and columns are blank. The real
# modules agree with the arithmetic:

# %%
conv1 = model.features[1]
paddings = {"no padding": (0, 0, 0, 0),
            "torchvision: 2 on every side": (2, 2, 2, 2),
            "this book: 3 right and bottom": (0, 3, 0, 3)}
with torch.no_grad():
    for name, padding in paddings.items():
        x = F.pad(torch.zeros(1, 3, 224, 224), padding)
        print(f"{name:<30} input {x.shape[-1]} -> conv1 maps {tuple(conv1(x).shape[1:])}")

# %% [markdown]
# The pools that follow cause no such trouble. cuda-convnet and Caffe round the number of pooling
# windows up, PyTorch rounds it down, but with $z = 3$, $s = 2$ the divisions are exact at each of
# AlexNet's three pools, so every library gets the same sizes:

# %%
for width in (55, 27, 13):
    steps = (width - 3) / 2
    print(f"{width} -> {steps + 1:g} (round down: {math.floor(steps) + 1}, "
          f"round up: {math.ceil(steps) + 1})")

# %% [markdown]
# ## Explore: input size and padding
#
# A mistake at conv1 does not stay at conv1: it changes every map after it, and in the end the
# number of values that reach fc6, whose weight matrix has exactly $256 \cdot 6 \cdot 6 = 9216$
# columns. Here are the three ways of handling the 224-pixel input, computed by running the
# network's own convolutional layers:

# %%
stems = {"no padding (the paper as written)": nn.Identity(),
         "torchvision: 2 px on every side": nn.ZeroPad2d(2),
         "this book: 3 px right and bottom": nn.ZeroPad2d((0, 3, 0, 3))}
fc6_inputs = model.classifier[0].in_features
fig, axes = plt.subplots(1, 3, figsize=(15, 3.4), sharey=True)
for ax, (name, stem) in zip(axes, stems.items()):
    features = nn.Sequential(stem, *model.features[1:])
    viz.plot_map_sizes(layer_table(features, 224), 224, fc6_inputs, ax=ax)
    ax.set_xlabel(name)
fig.tight_layout()
plt.show()

# %% [markdown]
# Without padding, the 54 columns of conv1 become 26 after the first pool, 12 after the second and
# 5 after the third, and fc6 would need a different shape. Run the notebook to try other input
# sizes and paddings with the controls below (the page shows them at the book's setting).

# %%
def explore(image_size, padding):
    """Map sizes through the convolutional layers for one input size and padding."""
    features = nn.Sequential(stems[padding], *model.features[1:])
    return viz.plot_map_sizes(layer_table(features, image_size), image_size, fc6_inputs)


viz.interactive_figure(
    explore,
    image_size=widgets.IntSlider(224, min=195, max=259, description="input size"),
    padding=widgets.Dropdown(options=list(stems), value="this book: 3 px right and bottom",
                             description="padding", layout={"width": "420px"}))

# %% [markdown]
# ## The network at work
#
# The input of the network is a 224×224 patch of a photograph rescaled to 256 pixels on its
# shorter side, with the mean subtracted (§2, §4.1). `alexnet.transforms.eval_transform` does
# this to real ILSVRC-2012 photographs from `alexnet.data.imagenet_samples()` (one per class;
# read from `ALEXNET_DATA` when it is set, downloaded otherwise). We pass 8 of them through the
# untrained network: out come 1000 class scores per photograph.

# %%
photos = sorted(imagenet_samples().glob("n*/*"))[::125]
names = imagenet_class_names()[::125]
batch = torch.stack([eval_transform()(load_rgb(path)) for path in photos])
viz.show_images(batch + IMAGENET_MEAN[:, None, None], names, ncols=8,
                suptitle="the 224×224 centre patches the network sees (mean added back for display)")
plt.show()
with torch.no_grad():
    scores = model.eval()(batch)
print("input", tuple(batch.shape), "-> scores", tuple(scores.shape))

# %% [markdown]
# How fast is that? The cell below times the forward pass on this page's device (its output differs
# from machine to machine, so the book's tests do not compare it). A backward pass costs about
# twice a forward pass, so one training step costs about three forward passes; from that, the time
# the paper's 90 epochs over 1.2 million images (§5) would take here.

# %%
# NBVAL_IGNORE_OUTPUT
size = 128 if FULL_SIZE else 8
torch.manual_seed(0)
x = torch.randn(size, 3, 224, 224, device=device) * 60
net = model.to(device).eval()
with torch.no_grad():
    net(x)                                 # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    net(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    per_image = (time.perf_counter() - start) / size
days = 90 * 1.2e6 * 3 * per_image / 86400
print(f"{device}: {1000 * per_image:.1f} ms per image forward; "
      f"90 epochs would take about {days:,.0f} days (the paper: 5-6 days on two GTX 580s)")

# %% [markdown]
# ## Summary
#
# - `alexnet.AlexNet()` is the network of §3.5: five convolutional layers (conv2, conv4 and conv5
#   split between the two GPUs), three fully-connected layers, and the paper's "60 million
#   parameters" counted exactly.
# - The fully-connected layers hold nearly all the parameters, the convolutional layers do nearly
#   all the arithmetic.
# - The paper's 224-pixel input does not give 55×55 maps by its own formula. We pad 3 pixels on the
#   right and bottom, as Krizhevsky's cuda-convnet effectively did; Caffe uses 227-pixel crops,
#   torchvision pads 2 pixels on every side. All three give 55×55 maps, and the pools after them
#   agree in every library.

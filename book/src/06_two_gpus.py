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
# # 6. Training on two GPUs
#
# In 2012 the network did not fit on one graphics card. "A single GTX 580 GPU has only 3GB of
# memory, which limits the maximum size of the networks that can be trained on it" (§3.2), so the
# authors cut every layer in half and put one half on each of two GPUs. This chapter rebuilds that
# split with `alexnet.TwoTowerAlexNet`, proves that it computes exactly the same function as the
# one-device grouped network, counts what travels between the two devices, and sets it beside the
# way people spread training over GPUs today: data parallelism with `torch.distributed`.
#
# The split is not only an engineering detail. The two halves learn different things (chapter 8),
# and the paper credits the two-GPU layout with a better error than one GPU with half the kernels,
# a claim we test at the end.

# %% [markdown]
# ## Settings
#
# This book has no GPU when its pages are built: both towers below live on the CPU, which runs the
# same code, only slower. In Colab with a GPU, set `FULL_SIZE = True`: the towers go to the GPU(s)
# and the last section trains the two-GPU experiment at full size (all of CIFAR-10, a few minutes on
# a GPU) instead of showing the stored result.

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

import alexnet
from alexnet import reproduce, viz
from alexnet.two_tower import crossing_traffic

FULL_SIZE = False  # <- True in Colab with a GPU: towers on the GPU(s), full-size experiment

if FULL_SIZE and torch.cuda.device_count() >= 2:
    DEVICES = ("cuda:0", "cuda:1")         # the paper's layout: one tower per GPU
elif FULL_SIZE and torch.cuda.is_available():
    DEVICES = ("cuda:0", "cuda:0")         # both towers on the one GPU there is
else:
    DEVICES = ("cpu", "cpu")               # this page: both towers on the CPU
print("tower devices:", DEVICES)

# %% [markdown]
# ## Which layers talk across the GPUs
#
# §3.2 puts "half of the kernels (or neurons) on each GPU, with one additional trick: the GPUs
# communicate only in certain layers. This means that, for example, the kernels of layer 3 take
# input from all kernel maps in layer 2. However, kernels in layer 4 take input only from those
# kernel maps in layer 3 which reside on the same GPU." Figure 2 and §3.5 complete the picture:
#
# | layer | its input comes from |
# |---|---|
# | conv1 | the whole image (each GPU gets a copy) |
# | conv2 | its own GPU's conv1 maps |
# | **conv3** | **both GPUs'** conv2 maps |
# | conv4, conv5 | their own GPU's maps |
# | **fc6, fc7, fc8** | **both GPUs'** neurons |
#
# On one device the same restricted connectivity is a grouped convolution: `groups=2` in conv2,
# conv4 and conv5 (chapter 1). `TwoTowerAlexNet` instead builds the two halves as two separate
# modules, each with its parameters on its own device, and concatenates the halves in a single
# function, `alexnet.two_tower._gather`, wherever a layer needs both. We build the full-size network
# (224×224 inputs, 1000 classes) and put a spy on `_gather` to see where data crosses.

# %%
torch.manual_seed(0)
towers = alexnet.TwoTowerAlexNet(1000, devices=DEVICES).eval()
for t, tower in enumerate(towers.towers):
    devices = {str(p.device) for p in tower.parameters()}
    count = sum(p.numel() for p in tower.parameters())
    print(f"tower {t + 1} (GPU {t + 1} in the paper): {count:,} parameters on {devices}")
print(f"fc8: {sum(p.numel() for p in towers.fc8.parameters()):,} parameters on {towers.devices[0]}")

# %%
torch.manual_seed(0)
images = torch.randn(2, 3, 224, 224, device=DEVICES[0]) * 60   # centred raw RGB, 0-255 scale
traffic = crossing_traffic(towers, images)
crossing_layers = sorted({row["layer"] for row in traffic})
print("layers fed by both towers:", ", ".join(crossing_layers))
assert crossing_layers == ["conv3", "fc6", "fc7", "fc8"]

# %% [markdown]
# The spy sees data cross into exactly the four layers of the table and nowhere else. Drawn as in
# Figure 2 (chapter 1 draws it from the same grouped network), each GPU is one row and the red
# arrows are the only traffic between them:

# %%
viz.draw_architecture(alexnet.AlexNet())
plt.show()

# %% [markdown]
# ## The two towers are the grouped network
#
# Tower *t* holds output channels `[t·C/2, (t+1)·C/2)` of every layer, which is exactly how
# PyTorch's `groups=2` splits them, so a grouped `AlexNet` and a `TwoTowerAlexNet` with the same
# weights must compute the same logits. `TwoTowerAlexNet.from_grouped` copies a grouped model's
# weights into the towers and `to_grouped` copies them back. We check both on random images, in
# evaluation mode (dropout off, so that both are deterministic).

# %%
torch.manual_seed(1)
grouped = alexnet.AlexNet(1000, init="pytorch").eval()   # random weights, non-trivial biases
split = alexnet.TwoTowerAlexNet.from_grouped(grouped, DEVICES).eval()
torch.manual_seed(2)
x = torch.randn(4, 3, 224, 224) * 60
with torch.no_grad():
    expected = grouped.to(DEVICES[0])(x.to(DEVICES[0]))
    got = split(x.to(DEVICES[0]))
difference = (expected - got).abs().max().item()
size = expected.abs().max().item()
print("largest difference between the logits below 1e-5 of the largest logit:",
      difference <= 1e-5 * size)
assert difference <= 1e-5 * size

# %%
back = split.to_grouped().to(DEVICES[0])
same = all(torch.equal(p, q) for p, q in zip(grouped.state_dict().values(),
                                             back.state_dict().values()))
print("grouped -> two towers -> grouped gives back every weight exactly:", same)
assert same

# %% [markdown]
# The logits agree to float32 rounding (the sums run in another order), and the round trip gives
# back every weight bit for bit. Everything the book says about the grouped network holds for the
# two-device one, and the other way round.

# %% [markdown]
# ## What crosses between the GPUs
#
# Each row of the spy's record is one concatenation: the layer it feeds, the tower it feeds, and
# how much of its input came from the *other* tower, per image. On two GPUs, that is what is copied
# from one card to the other in the forward pass; the backward pass sends gradients of the same
# size back.

# %%
rows = ["| layer fed | receiving tower | values per image from the other tower | bytes (float32) |",
        "|---|---|---|---|"]
rows += [f"| {r['layer']} | {r['to_tower'] + 1} | {r['values_per_image']:,} | "
         f"{r['bytes_per_image']:,} |" for r in traffic]
per_image = sum(r["bytes_per_image"] for r in traffic)
rows.append(f"| **total** | | | **{per_image:,}** |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# conv3 dominates: each tower needs the other's 128 pooled conv2 maps of 13×13. The fully-connected
# layers exchange only vectors. Per training step of the paper's 128 images (§5), forward and
# backward:

# %%
BATCH = 128  # §5
model_parallel = 2 * BATCH * per_image      # activations forward, their gradients backward
print(f"model parallel (the paper's split): {model_parallel / 1e6:.1f} MB between the GPUs per step")

# %% [markdown]
# ## Compared with data parallelism
#
# Today one rarely splits a network of this size. *Data parallelism* gives every GPU a whole copy
# of the network and a different share of each batch; after the backward pass the GPUs average
# their gradients (an all-reduce), so the copies stay identical. This is what PyTorch's
# `DistributedDataParallel` does, and what `alexnet.train.Trainer` does when started by `torchrun`
# (the README's *Scaling out* section has the details):
#
# ```bash
# alexnet train --data /data/imagenet --arch two-tower --devices cuda:0 cuda:1   # §3.2 on 2 GPUs
# torchrun --standalone --nproc_per_node 8 -m alexnet train --data /data/imagenet \
#     --device cuda --batch-size 128                                           # data parallel
# torchrun --standalone --nproc_per_node 4 -m alexnet train --data /data/imagenet \
#     --arch two-tower                               # both: 4 copies of the 2-GPU network
# ```
#
# What crosses there is the gradient of every parameter, 4 bytes each in float32, once per step,
# whatever the batch size. (A ring all-reduce over *N* GPUs sends 2(*N*−1)/*N* times that from each
# GPU: exactly once for two.)

# %%
parameters = sum(p.numel() for p in grouped.parameters())
in_fc = sum(p.numel() for p in grouped.classifier.parameters())
data_parallel = 4 * parameters
print(f"{parameters:,} parameters ({in_fc / parameters:.1%} of them in fc6-fc8) -> data parallel: "
      f"{data_parallel / 1e6:.1f} MB of gradients per step")
print(f"model parallel sends less per step below a batch of {data_parallel / (2 * per_image):.0f} "
      "images")
assert model_parallel < data_parallel   # at the paper's batch of 128

# %% [markdown]
# The two costs scale differently: model parallelism moves activations, so its traffic grows with
# the batch; data parallelism moves gradients, so its traffic is fixed by the parameter count, and
# nearly all of AlexNet's parameters sit in the fully-connected layers. That is the idea of
# Krizhevsky's own follow-up, "One weird trick for parallelizing convolutional neural networks"
# (2014): data parallelism for the convolutional layers, which do most of the computation with
# few parameters, and model parallelism for the fully-connected layers, which hold most of the
# parameters with little computation.

# %%
batches = [2 ** k for k in range(4, 12)]
viz.plot_traffic(batches, per_image, data_parallel, highlight=BATCH)
plt.show()

# %% [markdown]
# Move the slider to read both costs at another batch size (in Colab or Jupyter; the page shows
# the paper's 128, as above).

# %%
def traffic_at(batch):
    """Bytes crossing per training step, both ways of splitting the work, at this batch size."""
    return viz.plot_traffic(batches, per_image, data_parallel, highlight=batch)


viz.interactive_figure(traffic_at, batch=widgets.SelectionSlider(
    options=batches, value=BATCH, description="batch size"))

# %% [markdown]
# ## Does the split cost or gain accuracy?
#
# §3.2 reports that the two-GPU scheme "reduces our top-1 and top-5 error rates by 1.7% and 1.2%,
# respectively, as compared with a net with half as many kernels in each convolutional layer
# trained on one GPU". A footnote adds that the one-GPU net kept the full size of the last
# convolutional layer and the fully-connected layers, so the comparison is "biased in favor of the
# one-GPU net". The claim `two-gpu` of `alexnet.reproduce` trains both: the grouped
# `CifarAlexNet` (the two towers; the split only changes where the numbers are computed, as we just
# proved) and one tower with half of the conv1–conv4 kernels and full conv5 and fc layers, on
# CIFAR-10 (a stand-in: we have no ImageNet training set), several seeds each, paired by seed.

# %%
two_gpu = reproduce.chapter_result("two-gpu", FULL_SIZE)

# %%
viz.plot_claim(two_gpu, width=5.5)
plt.show()

# %%
assert len(two_gpu["tests"]) == 2
assert all(t["verdict"] in (*reproduce.VERDICTS, "not measured") for t in two_gpu["tests"])

# %% [markdown]
# Each dot is one seed; the bars are the means. The verdict is *reproduced* only when the 95%
# interval of the paired difference lies on the paper's side of zero. The ledger in chapter 7
# collects this row with all the others, and says why a small run may not show a 1.7-point effect.

# %% [markdown]
# ## Summary
#
# - The two GPUs of 2012 exchanged data only on the way into conv3, fc6, fc7 and fc8; conv2, conv4
#   and conv5 see only their own GPU's maps, which on one device is `groups=2`.
# - `TwoTowerAlexNet` places the halves on any two devices (here both on the CPU) and computes the
#   same logits as the grouped `AlexNet`; the conversion goes both ways without loss.
# - The split moves activations, proportional to the batch; data parallelism moves gradients,
#   proportional to the parameters. With AlexNet's huge fully-connected layers, the paper's split
#   sends less than data parallelism would at its batch of 128, and more above the crossover
#   batch size computed above.

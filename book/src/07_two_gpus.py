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
# # Training on two GPUs
#
# In 2012 the network did not fit on one graphics card. "A single GTX 580 GPU has only 3GB of
# memory, which limits the maximum size of the networks that can be trained on it" (§3.2 of {cite:t}`krizhevsky2012`), so the
# authors cut every layer in half and put one half on each of two GPUs. This chapter rebuilds that
# split with `alexnet.TwoTowerAlexNet`, proves that it computes exactly the same function as the
# one-device grouped network, counts what travels between the two devices, and sets it beside the
# way people spread training over GPUs today: data parallelism with `torch.distributed`.
#
# The split is not only an engineering detail. The two halves learn different things ([chapter 9](09_filters.ipynb)),
# and the paper credits the two-GPU layout with a better error than one GPU with half the kernels,
# a claim we test at the end.

# %% [markdown]
# ## Settings
#
# This book has no GPU when its pages are built: both towers below live on the CPU, which runs the
# same code, only slower. In Colab with a GPU, set `FULL_SIZE = True`: the towers go to the GPU(s)
# and the last section runs the two-GPU experiment at full size (all of CIFAR-10; its result goes
# to `gpu-results/`) instead of showing the stored result.

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

import alexnet
from alexnet import reproduce, summary, viz
from alexnet.two_tower import crossing_traffic

viz.use_book_style()
FULL_SIZE = False  # <- True in Colab with a GPU: towers there, full runs

if FULL_SIZE and torch.cuda.device_count() >= 2:
    DEVICES = ("cuda:0", "cuda:1")   # the paper's layout: one tower per GPU
elif FULL_SIZE and torch.cuda.is_available():
    DEVICES = ("cuda:0", "cuda:0")   # both towers on the one GPU there is
else:
    DEVICES = ("cpu", "cpu")         # this page: both towers on the CPU
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
# conv4 and conv5 ([chapter 1](01_architecture.ipynb)). `TwoTowerAlexNet` instead builds the two halves as two separate
# modules, each with its parameters on its own device, and concatenates the halves in a single
# function wherever a layer needs both. Its forward pass is the table above, line by line:
#
# ```{literalinclude} ../alexnet/two_tower.py
# :pyobject: TwoTowerAlexNet.forward
# :dedent: 4
# ```
#
# We build the full-size network (224×224 inputs, 1000 classes), and
# `alexnet.two_tower.crossing_traffic` puts a spy on that one function to see where data crosses.

# %%
torch.manual_seed(0)
towers = alexnet.TwoTowerAlexNet(1000, devices=DEVICES).eval()
for t, tower in enumerate(towers.towers):
    devices = {str(p.device) for p in tower.parameters()}
    count = sum(p.numel() for p in tower.parameters())
    print(f"tower {t + 1} (the paper's GPU {t + 1}): {count:,} parameters "
          f"on {', '.join(devices)}")
fc8 = sum(p.numel() for p in towers.fc8.parameters())
print(f"fc8: {fc8:,} parameters on {towers.devices[0]}")

# %%
torch.manual_seed(0)
# centred images on the 0-255 scale
images = torch.randn(2, 3, 224, 224, device=DEVICES[0]) * 60
traffic = crossing_traffic(towers, images)
crossing_layers = sorted({row["layer"] for row in traffic})
print("layers fed by both towers:", ", ".join(crossing_layers))

# %% tags=["remove-input"]
assert crossing_layers == ["conv3", "fc6", "fc7", "fc8"]

# %% [markdown]
# The spy sees data cross into exactly the four layers of the table and nowhere else: the red
# arrows of [chapter 1](01_architecture.ipynb)'s drawing of the network.

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
grouped = alexnet.AlexNet(1000, init="pytorch").eval()  # non-trivial biases
split = alexnet.TwoTowerAlexNet.from_grouped(grouped, DEVICES).eval()
torch.manual_seed(2)
x = torch.randn(4, 3, 224, 224) * 60
difference, size = alexnet.two_tower.logits_difference(grouped, split, x)
print("logits within 1e-5 of the largest one:", difference <= 1e-5 * size)

# %% tags=["remove-input"]
assert difference <= 1e-5 * size

# %%
back = split.to_grouped().to(DEVICES[0])
same = all(torch.equal(p, q) for p, q in zip(grouped.state_dict().values(),
                                             back.state_dict().values()))
print("grouped -> two towers -> grouped, every weight the same:", same)

# %% tags=["remove-input"]
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
per_image = sum(r["bytes_per_image"] for r in traffic)
rows = [[r["layer"], r["to_tower"] + 1, f"{r['values_per_image']:,}",
         f"{r['bytes_per_image']:,}"] for r in traffic]
rows.append(["**total**", "", "", f"**{per_image:,}**"])
display(viz.markdown_table(
    rows, ["layer fed", "receiving tower", "values from the other tower",
           "bytes (float32)"], align="lrrr"))

# %%
BATCH = 128  # §5
parameters = sum(p.numel() for p in grouped.parameters())
in_fc = sum(p.numel() for p in grouped.classifier.parameters())
model_parallel = summary.model_parallel_bytes(per_image, BATCH)
data_parallel = summary.data_parallel_bytes(parameters, gpus=2)
crossover = summary.crossover_batch(per_image, parameters, gpus=2)

# %% tags=["remove-input"]
viz.glue("model-parallel-mb", f"{model_parallel / 1e6:.0f} MB")
viz.glue("data-parallel-mb", f"{data_parallel / 1e6:.0f} MB")
viz.glue("fc-share", f"{in_fc / parameters:.0%}")
viz.glue("crossover", f"{crossover:,.0f}")
assert model_parallel < data_parallel and 1000 < crossover < 1100

# %% [markdown]
# conv3 dominates: each tower needs the other's 128 pooled conv2 maps of 13×13. The fully-connected
# layers exchange only vectors. Per training step of the paper's 128 images (§5), forward and
# backward, the paper's split moves {glue:}`model-parallel-mb` between the two GPUs.
#
# ## Compared with data parallelism
#
# Today one rarely splits a network of this size. *Data parallelism* gives every GPU a whole copy
# of the network and a different share of each batch; after the backward pass the GPUs average
# their gradients (an all-reduce), so the copies stay identical. This is what PyTorch's
# `DistributedDataParallel` does, and what `alexnet.train.Trainer` does when started by `torchrun`
# (the README's *Scaling out* section has the details):
#
# ```bash
# # §3.2 on two GPUs
# alexnet train --data /data/imagenet --arch two-tower --devices cuda:0 cuda:1
# # data parallel on 8 GPUs
# torchrun --standalone --nproc_per_node 8 -m alexnet train \
#     --data /data/imagenet --device cuda --batch-size 128
# # both: 4 copies of the two-GPU network
# torchrun --standalone --nproc_per_node 4 -m alexnet train \
#     --data /data/imagenet --arch two-tower
# ```
#
# What crosses there is the gradient of every parameter, 4 bytes each in float32, once per step,
# whatever the batch size. In a ring all-reduce over *N* GPUs each GPU sends 2(*N*−1)/*N* times
# the gradient's size (`alexnet.summary.data_parallel_bytes`): on two GPUs, each sends its whole
# gradient once, {glue:}`data-parallel-mb` for the two together.
#
# The two costs scale differently: model parallelism moves activations, so its traffic grows with
# the batch; data parallelism moves gradients, so its traffic is fixed by the parameter count, and
# {glue:}`fc-share` of AlexNet's parameters sit in the fully-connected layers. Counted the same
# way, all the bytes that cross between the two GPUs on both sides, the paper's split moves less
# than data parallelism up to a batch of about {glue:}`crossover` images
# (`alexnet.summary.crossover_batch`), eight times the paper's 128. That is the idea of
# Krizhevsky's own follow-up, "One weird trick for parallelizing convolutional neural networks"
# (2014): data parallelism for the convolutional layers, which do most of the computation with
# few parameters, and model parallelism for the fully-connected layers, which hold most of the
# parameters with little computation.
#
# How the crossover depends on the size of the fully-connected layers: in Colab or Jupyter, the
# controls below rebuild the two towers with another width of fc6 and fc7 (the paper's is 4096),
# measure the traffic and count the parameters again; on this page, the tabs show three widths.

# %%
BATCHES = [2 ** k for k in range(4, 13)]


def traffic_at(hidden, batch=BATCH):
    """Bytes per step of both kinds of parallelism, fc6-fc7 this wide."""
    torch.manual_seed(0)
    net = alexnet.TwoTowerAlexNet(1000, ("cpu", "cpu"), hidden=hidden,
                                  init="pytorch").eval()
    one = torch.zeros(1, 3, 224, 224)
    crossing = crossing_traffic(net, one)
    per_image = sum(r["bytes_per_image"] for r in crossing)
    parameters = sum(p.numel() for p in net.parameters())
    ax = viz.plot_traffic(BATCHES, per_image, parameters, highlight=batch)
    ax.set_title(f"fc6, fc7 {hidden} wide; " + ax.get_title())
    return ax


# %% tags=["remove-output"]
viz.interactive_figure(
    traffic_at,
    hidden=widgets.SelectionSlider(options=[512, 1024, 2048, 4096, 8192],
                                   value=4096, description="fc width"),
    batch=widgets.SelectionSlider(options=BATCHES, value=BATCH,
                                  description="batch"))

# %% tags=["remove-input"]
viz.figure_tabs(
    "traffic", {f"fc {h}": traffic_at(h) for h in (1024, 4096, 8192)},
    {f"fc {h}": f"Megabytes sent between the GPUs per training step "
                f"against the batch size, with fc6 and fc7 {h} wide: the "
                f"paper's split grows with the batch, data parallelism "
                f"stays flat, and a dotted line marks where they cross."
     for h in (1024, 4096, 8192)})

# %% [markdown]
# Narrower fully-connected layers hardly change what the split sends (conv3's maps dominate it)
# but shrink the gradients that data parallelism must send, so the crossover falls; wider ones
# push it up. The paper's network, with its 4096-wide layers at a batch of 128, sits well inside
# the region where the split was the cheaper choice.

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
if FULL_SIZE:
    two_gpu = reproduce.run_claim("two-gpu", scale="gpu", out="gpu-results")
else:
    two_gpu = reproduce.load("two-gpu")
display(viz.claim_table(two_gpu))

# %% tags=["remove-input"]
viz.glue_claim("two-gpu", two_gpu)

# %% [markdown]
# :::{dropdown} Our setting, in full
# {glue:}`two-gpu-setting`.
# :::
#
# Over {glue:}`two-gpu-seeds` seeds, the two-tower net's test error is
# {glue:}`two-gpu-0-arm-0` and that of one tower with half the kernels {glue:}`two-gpu-0-arm-1`:
# a difference of {glue:}`two-gpu-0-estimate`, positive being the paper's way. The test loss,
# which does not round each prediction to right or wrong, moves the same way:
# {glue:}`two-gpu-1-estimate`, a secondary result.
#
# The two towers come out ahead in {glue:}`two-gpu-ahead` of the seeds, by a couple of points
# of test error, the same order as the paper's 1.7, and the interval stays above zero; but the
# plan, made before any difference was seen, found that detecting the paper's 1.7 points with
# this seed-to-seed spread needs {glue:}`two-gpu-0-needed` seeds, more than this machine's
# budget. So the claim is *not testable at this scale*: an estimate consistent with the paper,
# not a confirmation. Two more cautions. {glue:}`two-gpu-capped` runs were still improving
# slowly when they reached the 90-epoch cap, more of them with one tower, so the one-tower net
# may be a little further from its best than the two towers are. And the paper's footnote
# applies here too: the one-tower net keeps the full conv5 and fully-connected layers, so the
# comparison is "biased in favor of the one-GPU net".

# %% tags=["remove-input"]
error, loss = two_gpu["tests"]
ahead = sum(d > 0 for d in error["differences"])
viz.glue("two-gpu-ahead", f"{ahead} of {error['n']}")
capped = {}
for run in two_gpu["runs"]:
    hit_cap = not run["metrics"]["stopped_early"]
    capped.setdefault(run["arm"], []).append(hit_cap)
two_towers, one_tower = (sum(v) for v in capped.values())
runs = len(two_gpu["runs"])
viz.glue("two-gpu-capped", f"{two_towers + one_tower} of {runs}")
if not FULL_SIZE:  # the sentences above
    assert not error["testable"] and error["seeds_needed"] > error["n"]
    assert 1 < error["estimate"] < 4 and error["low"] > 0
    assert ahead == error["n"]
    assert error["low"] < error["paper_value"] < error["high"]
    assert loss["estimate"] > 0 and one_tower > two_towers > 0

# %% mystnb={"figure": {"name": "fig-two-gpu-result", "caption": "The stored two-GPU result: test error and test loss of each seed, two towers against one with half the kernels."}, "image": {"alt": "The stored two-gpu result, two panels: each seed's test error and test loss for the two-tower network and for one tower with half the kernels, the two arms of a seed joined by a line and each arm's mean marked."}}
viz.plot_claim(two_gpu)
plt.show()

# %% [markdown]
# ## Summary
#
# - The two GPUs of 2012 exchanged data only on the way into conv3, fc6, fc7 and fc8; conv2, conv4
#   and conv5 see only their own GPU's maps, which on one device is `groups=2`.
# - `TwoTowerAlexNet` places the halves on any two devices (here both on the CPU) and computes the
#   same logits as the grouped `AlexNet`; the conversion goes both ways without loss.
# - The split moves activations, proportional to the batch; data parallelism moves gradients,
#   proportional to the parameters. With AlexNet's huge fully-connected layers, the paper's split
#   sends less than data parallelism up to a batch of about {glue:}`crossover` images.
# - Measured here, on CIFAR-10: one tower with half the kernels − two towers,
#   {glue:}`two-gpu-0-estimate` test error, the paper's direction in every seed; not testable
#   with five seeds (detecting the paper's 1.7 points needs {glue:}`two-gpu-0-needed`).

# %% [markdown]
# ## Exercises
#
# 1. **Where the split stops paying.** With the controls of *Compared with data parallelism* (in
#    Colab or Jupyter), find the width of fc6 and fc7 at which the crossover falls below the
#    paper's batch of 128. What would the paper's network have had to look like for data
#    parallelism to be the cheaper choice in 2012?
#
#    :::{dropdown} Hint
#    The split's traffic per image is dominated by conv3's input, which does not depend on the
#    fully-connected width; the gradients do, through fc6's 9,216 × width weights.
#    :::
#
#    :::{dropdown} Solution
#    Even at a width of 512 the convolutional layers' 2.3 million parameters and fc6's
#    9,216 × 512 weights keep the crossover above 128 images: data parallelism would only have
#    been cheaper for a network with far smaller fully-connected layers, or with much larger
#    batches than §5's.
#    :::
#
# 2. **Ring all-reduce on more GPUs.** `summary.data_parallel_bytes` (with `gpus=N`) counts
#    the bytes all *N* GPUs send together. Compute it for 2, 4 and 8 GPUs. Why does the
#    total grow while each GPU's share stays almost the same?
#
#    :::{dropdown} Solution
#    Each GPU sends $2(N-1)/N$ gradients' worth: 1, 1.5 and 1.75 times the gradient for 2, 4 and
#    8 GPUs, so the total is $2(N-1)$ gradients. Each link carries about the same load whatever
#    *N*, which is why the ring scales; the total grows because there are more links.
#    :::
#
# 3. **One more crossing, in the package.** In `alexnet/two_tower.py`, the towers exchange their
#    maps on the way into conv3 only. Make conv4 read both towers too (the way conv3 does), then
#    count the traffic with `crossing_traffic` again. How much does the split's cost per image
#    grow, and why did the paper keep conv4 on its own GPU?
#
#    :::{dropdown} Hint
#    conv4's input is conv3's output: 192 maps of 13×13 per tower.
#    :::
#
#    :::{dropdown} Solution
#    Each tower then receives the other's 192 × 13 × 13 values on the way into conv4 too, more
#    than conv3's 128 × 13 × 13: the split's traffic more than doubles, and every step waits for
#    one more copy between the cards. The paper chose where to communicate so that "the amount of
#    communication" stays "an acceptable fraction of the amount of computation" (§3.2). Undo the
#    change: the package's tests check the paper's connectivity.
#    :::
#
# 4. **On real GPUs.** In Colab with a GPU runtime, set `FULL_SIZE = True`: the towers move to the
#    GPU (both to the same one if there is only one) and the claim `two-gpu` runs at GPU scale.
#    Do the logits still agree with the grouped network's? Does the paired difference now exclude
#    zero?
#
#    :::{dropdown} Solution
#    The logits agree to float32 rounding on a GPU too (cuDNN sums in yet another order). The
#    claim's table is recomputed from `gpu-results/two-gpu-gpu.json`; with all of CIFAR-10 the
#    runs are longer and the interval narrower, but a 1.7-point effect of ImageNet need not
#    carry over to a network this small.
#    :::

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
# # 1.1 The 224 vs 227 puzzle
#
# The paper's own numbers for conv1 do not add up: a 224-pixel input, 11-pixel kernels and a
# stride of 4 cannot give the 55×55 maps of its Figure 2. Every reimplementation has to answer
# this, and the popular ones answer it differently. This section works the arithmetic out, shows
# what each answer does to every map after conv1, and says which one this book takes and why.

# %% [markdown]
# ## Settings
#
# Nothing here trains; every cell runs in seconds on a CPU.

# %%
import ipywidgets as widgets
import torch
import torch.nn.functional as F
from torch import nn

import alexnet
from alexnet import summary, viz

viz.use_book_style()
model = alexnet.AlexNet()

# %% [markdown]
# ## Positions along one side
#
# §3.5 says that "the first convolutional layer filters the 224×224×3 input image with 96 kernels
# of size 11×11×3 with a stride of 4 pixels", and Figure 2 shows 55×55 maps. Along one side, a
# kernel of size $k$ moved in steps of $s$ over $W$ pixels, with $P$ pixels of padding in total,
# fits
#
# $$\frac{W + P - k}{s} + 1$$
#
# times (`alexnet.summary.window_positions`). With the paper's numbers that is not a whole number:

# %%
positions = {
    "the paper, 224 pixels": summary.window_positions(224, 11, 4),
    "Caffe, 227 pixels": summary.window_positions(227, 11, 4),
    "torchvision, 224 + 2 + 2": summary.window_positions(224, 11, 4, 4),
}
for name, count in positions.items():
    print(f"{name:<26} {count:g} positions")

# %% [markdown]
# Each popular implementation answers the puzzle differently:
#
# - **Caffe** feeds 227×227 crops, for which the kernel fits exactly 55 times.
# - **torchvision** keeps 224 and pads 2 pixels on every side; the division leaves a remainder,
#   which PyTorch drops, so the last column and row of padding are never used.
# - **cuda-convnet**, Krizhevsky's own code, keeps 224 with no padding but counts the output
#   positions as $1 + \lceil (W - k)/s \rceil = 1 + \lceil 213/4 \rceil = 55$: it only asks that
#   the kernels cover the image. The last kernel column then starts at pixel $4 \cdot 54 = 216$
#   and covers pixels 216 to 226, three beyond the image's last pixel, 223; there the input
#   counts as zero.
#
# This book follows cuda-convnet, the code the paper's network was trained with: 224×224 crops
# (§4.1's 224 patches of 256), padded with 3 zero pixels on the right and at the bottom. Because
# the mean image has already been subtracted (§2), zero is the average colour, not black. The
# padded input is 227×227, as in Caffe, but the three extra rows and columns are blank. In the
# package, `AlexNet.stem` returns the padding and conv1. The real modules agree with the
# arithmetic:

# %%
conv1 = model.features[1]
paddings = {"no padding": (0, 0, 0, 0),
            "torchvision: 2 on every side": (2, 2, 2, 2),
            "this book: 3 right and bottom": (0, 3, 0, 3)}
with torch.no_grad():
    for name, padding in paddings.items():
        x = F.pad(torch.zeros(1, 3, 224, 224), padding)
        maps = tuple(conv1(x).shape[1:])
        print(f"{name:<30} {x.shape[-1]} px -> conv1 maps {maps}")

# %% [markdown]
# The pools that follow cause no such trouble. cuda-convnet and Caffe round the number of pooling
# windows up, PyTorch rounds it down, but with $z = 3$, $s = 2$ the divisions are exact at each of
# AlexNet's three pools (55 → 27, 27 → 13, 13 → 6), so every library gets the same sizes:

# %% tags=["remove-input"]
for width in (55, 27, 13):
    assert summary.window_positions(width, 3, 2).is_integer()

# %% [markdown]
# ## Explore: input size and padding
#
# A mistake at conv1 changes every map after it, and in the end the number of values that reach
# fc6, whose weights have exactly $256 \cdot 6 \cdot 6 = 9216$ columns. The controls below (in
# Colab or Jupyter) run the network's convolutional layers on inputs of 195 to 259 pixels; here,
# the tabs show the three paddings at 224 pixels.

# %%
stems = {"none (the paper as written)": nn.Identity(),
         "torchvision: 2 px all round": nn.ZeroPad2d(2),
         "this book: 3 px right, bottom": nn.ZeroPad2d((0, 3, 0, 3))}
fc6_inputs = model.classifier[0].in_features


def map_sizes(image_size, padding):
    """Map sizes through the convolutional layers, one size and padding."""
    features = nn.Sequential(stems[padding], *model.features[1:])
    rows = summary.layer_table(features, image_size)
    return viz.plot_map_sizes(rows, image_size, fc6_inputs)


# %% tags=["remove-output"]
viz.interactive_figure(
    map_sizes,
    image_size=widgets.IntSlider(224, min=195, max=259,
                                 description="input size"),
    padding=widgets.Dropdown(options=list(stems), description="padding",
                             value="this book: 3 px right, bottom",
                             layout={"width": "360px"}))

# %% tags=["remove-input"]
viz.figure_tabs(
    "map-sizes",
    {name: map_sizes(224, name) for name in stems},
    {name: f"Bar chart of the side of the feature maps after each layer "
           f"for a 224-pixel input with padding {name}; the title says how "
           f"many values reach fc6." for name in stems})

# %% [markdown]
# Without padding, the 54 columns of conv1 become 26 after the first pool, 12 after the second and
# 5 after the third, and fc6 would need a different shape. With either padding, the maps are 55,
# 27, 13 and 6 pixels wide, and fc6 gets its 9,216 values.

# %% tags=["remove-input"]
unpadded = nn.Sequential(*model.features[1:])
no_padding = summary.layer_table(unpadded, 224)[-1].output
viz.glue("paper-positions", f"{positions['the paper, 224 pixels']:g}")
viz.glue("no-padding-fc6", "×".join(map(str, no_padding))
         + f" = {no_padding[0] * no_padding[1] * no_padding[2]:,}")
viz.glue("fc6-inputs", f"{fc6_inputs:,}")
assert no_padding == (256, 5, 5)

# %% [markdown]
# ## Summary
#
# - By §3.5's own formula, an 11-pixel kernel with a stride of 4 fits 224 pixels
#   {glue:}`paper-positions` times, not the 55 of Figure 2.
# - Caffe crops 227 pixels; torchvision pads 2 pixels on every side and drops the remainder;
#   cuda-convnet, the code the paper's network ran on, counts the positions that cover the image,
#   which is the same as padding 3 pixels on the right and at the bottom. This book does that.
# - All three answers give 55×55 maps, the pools after them agree in every library, and fc6 gets
#   its {glue:}`fc6-inputs` values; without any padding it would get {glue:}`no-padding-fc6`.

# %% tags=["remove-cell"]
# The numbers of the exercises' solutions (this cell is not shown on the page).
def crops(side, crop):
    """Crop offsets per image as §4.1 counts them (side - crop per axis),
    times two flips."""
    return (side - crop) ** 2 * 2


assert crops(256, 224) == 2048                     # §4.1's factor
viz.glue("answer-crops-227", f"{crops(256, 227):,}")
viz.glue("answer-crops-fewer", f"{1 - crops(256, 227) / crops(256, 224):.0%}")
viz.glue("answer-crops-227-all", f"{(256 - 227 + 1) ** 2 * 2:,}")
viz.glue("answer-crops-224-all", f"{(256 - 224 + 1) ** 2 * 2:,}")
floor_pool, ceil_pool = nn.MaxPool2d(3, 2), nn.MaxPool2d(3, 2, ceil_mode=True)
def pooled(pool, w):
    return pool(torch.zeros(1, 1, w, w)).shape[-1]


differ = [w for w in range(5, 64)
          if pooled(floor_pool, w) != pooled(ceil_pool, w)]
assert differ == [w for w in range(5, 64) if w % 2 == 0]  # every even width
viz.glue("answer-pool-56-floor", str(pooled(floor_pool, 56)))
viz.glue("answer-pool-56-ceil", str(pooled(ceil_pool, 56)))

# %% [markdown]
# ## Exercises
#
# 1. **Which inputs fit?** With the controls of *Explore* (in Colab or Jupyter) and this book's
#    padding, find every input size from 195 to 259 for which fc6 receives its 9,216 values. Then
#    derive the same range from the formula.
#
#    :::{dropdown} Hint
#    conv1 must give 55 positions, and PyTorch rounds $(W + 3 - 11)/4 + 1$ down.
#    :::
#
#    :::{dropdown} Solution
#    $\lfloor (W - 8)/4 \rfloor + 1 = 55$ means $216 \le W - 8 \le 219$: $W$ from 224 to 227.
#    Every pool after that is exact, so fc6 gets 256×6×6 values for these four sizes only:
#
#    ```python
#    padded = nn.Sequential(nn.ZeroPad2d((0, 3, 0, 3)),
#                           *model.features[1:])
#    fits = [w for w in range(195, 260)
#            if summary.layer_table(padded, w)[-1].output
#            == (256, 6, 6)]
#    print(fits)   # [224, 225, 226, 227]
#    ```
#    :::
#
# 2. **Pad like torchvision.** Change the package so that `AlexNet` pads 2 pixels on every side, as
#    torchvision does (look for `ZeroPad2d` in `alexnet/model.py`). Do the layer table, the
#    parameter count or the output shapes change? Which input pixels does conv1 now never see?
#
#    :::{dropdown} Hint
#    `AlexNet.stem` returns the padding and conv1. How many positions does the kernel fit on
#    224 + 4 pixels, and where does the last one end?
#    :::
#
#    :::{dropdown} Solution
#    Replace `nn.ZeroPad2d((0, 3, 0, 3))` by `nn.ZeroPad2d(2)`. Nothing in the table changes:
#    $(228 - 11)/4 + 1 = 55.25$ is rounded down to 55, so the maps stay 55×55 and the parameters
#    and multiply-adds are the same. The last kernel starts at padded pixel 216 and ends at 226,
#    so padded pixel 227 (the last padding column) is never read, while every image pixel is.
#    Undo the change afterwards: the package's tests check the paper's 3-pixel choice.
#    :::
#
# 3. **Crops in §4.1.** §4.1 takes random 224×224 patches of the 256×256 images and their mirror
#    images, and says this "increases the size of our training set by a factor of 2048". Where
#    does 2048 come from? What would the factor be with Caffe's 227-pixel crops?
#
#    :::{dropdown} Hint
#    Count the offsets of a patch along one side, then square and double.
#    :::
#
#    :::{dropdown} Solution
#    The paper counts $256 - 224 = 32$ offsets per side: $32^2 \cdot 2 = 2048$. Strictly, 33
#    offsets fit (0 to 32), which gives {glue:}`answer-crops-224-all`. With 227-pixel crops the
#    same count gives $29^2 \cdot 2$ = {glue:}`answer-crops-227` ({glue:}`answer-crops-227-all`
#    counting both ends): Caffe's larger crop has {glue:}`answer-crops-fewer` fewer patches to
#    draw from.
#    :::
#
# 4. **Rounding the pools.** cuda-convnet and Caffe round the number of pooling windows up,
#    PyTorch rounds it down (`nn.MaxPool2d(3, 2)` against `nn.MaxPool2d(3, 2, ceil_mode=True)`).
#    For which map widths do they disagree, and why does AlexNet never meet one?
#
#    :::{dropdown} Hint
#    $(W - 3)/2 + 1$ is a whole number exactly when $W$ is odd.
#    :::
#
#    :::{dropdown} Solution
#    They disagree for every even width: at 56, PyTorch gives {glue:}`answer-pool-56-floor` windows
#    and the ceiling {glue:}`answer-pool-56-ceil`, the last window hanging one pixel over the edge.
#    AlexNet's pools see 55, 27 and 13 pixels, all odd, so the divisions are exact. A network
#    whose conv1 gave 54 maps (no padding) would meet the disagreement at once.
#
#    ```python
#    for w in (55, 56):
#        x = torch.zeros(1, 1, w, w)
#        print(w, nn.MaxPool2d(3, 2)(x).shape[-1],
#              nn.MaxPool2d(3, 2, ceil_mode=True)(x).shape[-1])
#    ```
#    :::

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
# # 3.1 The α versus α/n trap
#
# Give PyTorch's `torch.nn.LocalResponseNorm` the paper's constants and it computes a
# normalisation five times weaker than the paper's formula ([chapter 3](03_lrn.ipynb) shows the
# two numbers side by side). This section finds the cause, lists what every library does, checks
# the package against the formula, and looks at one more choice the paper leaves open: whether
# each GPU normalises its own maps.

# %% [markdown]
# ## Settings
#
# Nothing here trains; every cell runs in seconds on a CPU.

# %%
import ipywidgets as widgets
import torch
from torch import nn

import alexnet
from alexnet import viz

viz.use_book_style()
k, n, alpha, beta = 2.0, 5, 1e-4, 0.75   # §3.3's constants

# %% [markdown]
# ## Summing or averaging
#
# PyTorch does not sum the squares: it averages them over the window, which is the same as
# dividing $\alpha$ by $n$. With `alpha=1e-4` it computes the paper's formula with
# $\alpha = 2 \cdot 10^{-5}$, and the normalisation is five times weaker than the paper's text
# says. To get the paper's formula from PyTorch, pass `alpha=5e-4`. PyTorch is not alone:
#
# | implementation | coefficient on $\sum (a^j)^2$ | $k$ |
# |---|---|---|
# | the paper's formula (§3.3), read literally | $\alpha$ | 2 |
# | cuda-convnet (2012), Krizhevsky's code, `cmrnorm` | scale / size | 1, fixed in the code |
# | cuda-convnet2 (2014) ImageNet configs | scale / size $= 10^{-4}/5$ | 2 (`minDiv`) |
# | Caffe `LRN` (`bvlc_alexnet`) | alpha / local_size $= 10^{-4}/5$ | 1 (default, left unset) |
# | PyTorch `nn.LocalResponseNorm` | alpha / size | argument, default 1 |
# | cuDNN `cudnnSetLRNDescriptor` | lrnAlpha / lrnN | argument |
#
# (Sources: each project's code and documentation.) Every library divides by $n$; only the
# paper's text does not. Which value the 2012 network really ran with cannot be settled from
# public files: the code released in 2012 divides by $n$ but fixes $k = 1$, so the $k = 2$ run
# used code that was never published. **This book follows the paper's formula** ($\alpha$ on the
# sum) and makes the constants options: `alexnet.AlexNet(lrn_kwargs={"alpha": 2e-5})` gives the
# libraries' scaling, and `{"alpha": 2e-5, "k": 1.0}` Caffe's constants.
#
# The package's reference implementation is the formula in a few tensor operations: the squares
# are padded with $n/2$ empty maps on each side, so that the clipped window becomes $n$ shifted
# slices to add up (`local_response_norm_reference` in `alexnet/lrn.py`):
#
# ```{literalinclude} ../alexnet/lrn.py
# :pyobject: local_response_norm_reference
# :start-at: batch, c, h, w = x.shape
# :end-at: return b.reshape
# :dedent: 4
# ```
#
# The check below runs both modules on random activities of the size of an AlexNet conv2 output
# and compares them with the formula computed map by map in double precision:

# %%
torch.manual_seed(0)
x = torch.relu(torch.randn(2, 256, 13, 13, dtype=torch.float64) * 100)
squares = x ** 2
formula = torch.stack(
    [x[:, j] / (k + alpha * squares[:, max(0, j - n // 2):j + n // 2 + 1]
                .sum(1)) ** beta for j in range(x.shape[1])], dim=1)


def largest_error(module):
    """Largest relative difference between module(x) and the formula."""
    error = (module(x) - formula).abs() / formula.clamp_min(1e-12)
    return error.max().item()


error_ours = largest_error(alexnet.LocalResponseNorm(n, alpha, beta, k))
error_torch = largest_error(nn.LocalResponseNorm(n, alpha, beta, k))
print("alexnet.LocalResponseNorm: within 1e-12 of the formula:",
      error_ours < 1e-12)
print(f"torch.nn.LocalResponseNorm, same arguments: {error_torch:.0%} off")

# %% tags=["remove-input"]
viz.glue("error-torch", f"{error_torch:.0%}")

# %% tags=["remove-input"]
assert error_ours < 1e-6 and error_torch > 0.1
assert torch.allclose(nn.LocalResponseNorm(n, alpha * n, beta, k)(x), formula,
                      rtol=1e-6)

# %% [markdown]
# ## One more choice: each GPU normalises its own maps
#
# §3.3 says that $N$ is "the total number of kernels in the layer", which reads as one window
# sliding over all 96 maps of conv1. But in the two-GPU network each GPU held only half of them,
# and Krizhevsky's later two-GPU configuration (cuda-convnet2) normalises 48 maps per GPU after
# conv1 and 128 after conv2. We infer that the 2012 network did the same, and give AlexNet's LRN
# layers `groups=2`, which normalises each half on its own; `groups=1` is the paper's text read
# literally. It is an inference, not the paper's words, and [chapter 8](08_results.ipynb) lists it among the
# {ref}`departures from the paper <departures>`. The two versions differ in exactly these maps of
# conv1's 96, the ones whose window reaches across the middle:

# %%
torch.manual_seed(0)
x = torch.relu(torch.randn(1, 96, 5, 5) * 100)
per_gpu = alexnet.LocalResponseNorm(groups=2)(x)
across = alexnet.LocalResponseNorm(groups=1)(x)
differ = (per_gpu - across).abs().amax(dim=(0, 2, 3)) > 0
print("maps that differ:", differ.nonzero().flatten().tolist())

# %% [markdown]
# ## Explore: the two readings
#
# In Colab or Jupyter, the controls below redraw {numref}`fig-lrn-response` of
# [chapter 3](03_lrn.ipynb) for any constants: the solid curve is the formula with $\alpha$ on the
# sum, the dashed one the same arguments given to PyTorch. Only $\alpha$ and $n$ move them apart;
# a five times larger $\alpha$ in PyTorch puts the dashed curve on the solid one.

# %% tags=["remove-output"]
viz.interactive_figure(
    viz.plot_lrn_response,
    k=widgets.FloatSlider(2.0, min=0.5, max=4.0, step=0.5, description="k"),
    n=widgets.IntSlider(5, min=1, max=15, step=2, description="n"),
    alpha=widgets.FloatLogSlider(1e-4, base=10, min=-6, max=-2, step=0.25,
                                 description="α"),
    beta=widgets.FloatSlider(0.75, min=0.25, max=1.5, step=0.05,
                             description="β"))

# %% [markdown]
# ## Summary
#
# - PyTorch, Caffe, cuDNN and Krizhevsky's own code divide $\alpha$ by $n$; the paper's text does
#   not. Passing the paper's numbers to `torch.nn.LocalResponseNorm` gives a normalisation five
#   times weaker, {glue:}`error-torch` off the formula on a conv2-sized input.
# - `alexnet.LocalResponseNorm` follows the text and agrees with the formula computed map by map;
#   `lrn_kwargs` gives the libraries' or Caffe's constants.
# - We normalise each GPU's maps on their own (`groups=2`): an inference from Krizhevsky's later
#   code, not the paper's text. It changes only the maps whose window reaches across the middle.

# %% tags=["remove-cell"]
# The numbers of the exercises' solutions (this cell is not shown on the page).
seed = torch.Generator().manual_seed(0)
probe = torch.relu(torch.randn(1, 16, 3, 3, generator=seed)) * 50
caffe = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)(probe)
ours = alexnet.LocalResponseNorm(5, 2e-5, 0.75, 1.0)
assert torch.allclose(ours(probe), caffe)
assert torch.allclose(nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)(probe),
                      alexnet.LocalResponseNorm(5, 1e-4, 0.75, 2.0)(probe))

# %% [markdown]
# ## Exercises
#
# 1. **Translate the constants.** Which arguments of `torch.nn.LocalResponseNorm` compute
#    (a) the paper's formula with its constants, and (b) the LRN of Caffe's `bvlc_alexnet`
#    (`local_size: 5`, `alpha: 0.0001`, `beta: 0.75`, $k$ left at its default)? Which
#    `alexnet.LocalResponseNorm` arguments give (b)?
#
#    :::{dropdown} Hint
#    PyTorch and Caffe both use $\alpha / n$ on the sum; the paper uses $\alpha$.
#    :::
#
#    :::{dropdown} Solution
#    (a) `nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)`: $5 \cdot 10^{-4} / 5 = 10^{-4}$
#    on the sum. (b) Caffe's $k$ defaults to 1, and its $\alpha$ is divided by 5 as PyTorch's
#    is, so `nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1)`, which in the paper's terms is
#    `alexnet.LocalResponseNorm(5, alpha=2e-5, beta=0.75, k=1)`. The book's hidden checks run
#    both pairs on random activities and find them equal.
#    :::
#
# 2. **α/n in the package, measured.** In [chapter 3](03_lrn.ipynb), after its live
#    experiment, train a third arm with the libraries' scaling,
#    `reproduce.Arm("LRN, α/n", "lrn", (("lrn", True), ("lrn_kwargs", {"alpha": 2e-5})))`, on
#    the live scale with three seeds, and pair it by seed with the paper's α. Can this size tell
#    the two apart?
#
#    :::{dropdown} Hint
#    `reproduce.train_arm(arm, live_scale, seed, device)` trains one run;
#    `reproduce.stats.summarise(differences)` gives the mean paired difference with its 95%
#    interval, as the reproduction reports its claims.
#    :::
#
#    :::{dropdown} Solution
#    ```python
#    scaled = reproduce.Arm("LRN, α/n", "lrn",
#                           (("lrn", True),
#                            ("lrn_kwargs", {"alpha": 2e-5})))
#    error = lambda arm, s: reproduce.train_arm(
#        arm, live_scale, s, device).metrics["test_top1"]
#    diffs = [100 * (error(scaled, s) - error(with_lrn, s))
#             for s in range(3)]
#    print(reproduce.stats.summarise(diffs))
#    ```
#    With three seeds the interval is the mean ± 4.3 standard errors (the t quantile for two
#    degrees of freedom): unless the differences all agree within a fraction of a point, it
#    contains zero, and this size cannot tell the two scalings apart. Telling them apart takes
#    the reproduction's approach: converged runs, and as many seeds as a pilot says the effect
#    needs.
#    :::
#
# 3. **An even window.** `torch.nn.LocalResponseNorm` accepts $n = 4$; `alexnet.LocalResponseNorm`
#    refuses it. Which four maps does PyTorch's window hold for map $i$, and why does the
#    package refuse? Find out by raising one map of ten and watching which outputs change.
#
#    :::{dropdown} Solution
#    PyTorch pads $\lfloor n/2 \rfloor = 2$ maps before and $\lfloor (n-1)/2 \rfloor = 1$
#    after, so map $i$ sees $i-2 \dots i+1$. Raise map 5 and list the damped outputs:
#
#    ```python
#    ones = torch.ones(1, 10, 1, 1)
#    raised = ones.clone()
#    raised[0, 5] = 100.0
#    lrn = nn.LocalResponseNorm(4, 1e-3, 0.75, 2)
#    damped = (lrn(raised) != lrn(ones)).flatten()
#    print([i for i in range(10) if damped[i]])   # [4, 5, 6, 7]
#    ```
#    Maps 4 to 7 are those whose window $i-2 \dots i+1$ holds map 5: the window leans one map
#    to the left. §3.3 sums from $i - n/2$ to $i + n/2$, a window centred on map $i$, which only
#    an odd $n$ has; `alexnet.LocalResponseNorm(4)` says so in one line instead of choosing a
#    side the paper does not name.
#    :::
#

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
# # 5. Dropout and data augmentation
#
# AlexNet has about 60 million parameters and learned from 1.2 million images. §4 puts the problem
# plainly: although "the 1000 classes of ILSVRC make each training example impose 10 bits of
# constraint on the mapping from image to label, this turns out to be insufficient to learn so many
# parameters without considerable overfitting". The paper fights overfitting in two ways, and this
# chapter takes both apart:
#
# 1. **Dropout** (§4.2), a then brand-new trick: randomly silence half of the neurons of fc6 and fc7
#    at every training step.
# 2. **Data augmentation** (§4.1): random 224×224 patches of the 256×256 images and their mirror
#    images, a random change of colour and intensity along the principal components of natural
#    colours, and ten patches averaged at test time. We show each on real ImageNet photographs.
#
# Each half ends with the paper's claim measured by `alexnet.reproduce`.

# %% [markdown]
# ## Settings
#
# By default every experiment here is CPU-sized and the measured claims are read from the result
# files that ship with the package. In Colab with a GPU, set `FULL_SIZE = True` to train the live
# experiment on all 50,000 CIFAR-10 training images and to rerun both claims at GPU scale (all of
# CIFAR-10; several minutes each).

# %%
import torch
import ipywidgets as widgets
import matplotlib.pyplot as plt
import torchvision.transforms.v2.functional as TF
from torch import nn

from alexnet import AlexNet, CifarAlexNet, data, dropout, reproduce, transforms, viz

FULL_SIZE = False  # <- True in Colab with a GPU: full-size live run, claims rerun at GPU scale

DEVICE = "cuda" if FULL_SIZE and torch.cuda.is_available() else "cpu"
HEAD_IMAGES = 50_000 if FULL_SIZE else 1_000   # training images of the live dropout experiment
print("device:", DEVICE, "| training images for the live experiment:", HEAD_IMAGES)

# %% [markdown]
# # Part 1: Dropout
#
# ## What it does in training and at test time
#
# §4.2: dropout "consists of setting to zero the output of each hidden neuron with probability
# 0.5. The neurons which are 'dropped out' in this way do not contribute to the forward pass and do
# not participate in back-propagation." Every training image thus sees a different, thinned
# network, and all of these networks share their weights. At test time nobody is dropped: "we use
# all the neurons but multiply their outputs by 0.5".
#
# Why 0.5? In training a neuron's output *x* survives with probability 1 − *p* = 0.5, so the next
# layer receives *x* on average only half of the time: its expected input is 0.5·*x*. Multiplying by
# 0.5 at test time gives the next layer the same expected input it was trained on.
#
# PyTorch's `nn.Dropout` reaches the same balance from the other side ("inverted" dropout, also used
# by Caffe): it divides the surviving outputs by 1 − *p* *during training* and does nothing at test
# time, so the expected output is *x* in both. `alexnet.dropout.PaperDropout` is the paper's
# version. Here are both on the outputs 1, 2, …, 8 of eight neurons, for one random mask:

# %%
# NBVAL_IGNORE_OUTPUT
x = torch.arange(1.0, 9.0)
paper, inverted = dropout.PaperDropout(0.5), nn.Dropout(0.5)
torch.manual_seed(0)
paper_out = paper.train()(x)
torch.manual_seed(0)
inverted_out = inverted.train()(x)
print("outputs x              ", x.tolist())
print("paper, training        ", paper_out.tolist())
print("nn.Dropout, training   ", inverted_out.tolist())
print("paper, test            ", paper.eval()(x).tolist())
print("nn.Dropout, test       ", inverted.eval()(x).tolist())

# %%
assert torch.equal(inverted_out, 2 * paper_out)           # same mask; PyTorch doubles the survivors
assert torch.equal(paper.eval()(x), 0.5 * x) and torch.equal(inverted.eval()(x), x)

# %% [markdown]
# With the same random numbers both drop the same neurons; PyTorch doubles the survivors. Averaged
# over many masks, the training output of each version equals its own test output:

# %%
torch.manual_seed(0)
draws = 100_000
for name, layer in (("paper", paper), ("nn.Dropout", inverted)):
    mean = layer.train()(x.expand(draws, -1)).mean(0)      # one mask per row
    test = layer.eval()(x)
    print(f"{name:>10}: training, mean of {draws:,} masks {[round(v, 1) for v in mean.tolist()]}")
    print(f"{'':>10}  test                          {[round(v, 1) for v in test.tolist()]}")
    assert torch.allclose(mean, test, rtol=0.02)

# %% [markdown]
# Both keep training and test in step; they differ only by a constant factor 1 − *p* on every
# dropped layer's output. A network trained with the paper's version is the same function as one
# trained with `nn.Dropout` whose next-layer weights are multiplied by 1 − *p*: the trained weights
# differ, the predictions do not. This package uses `nn.Dropout`, as everyone does today.
#
# The paper justifies the 0.5 at test time more deeply: it is "a reasonable approximation to taking
# the geometric mean of the predictive distributions produced by the exponentially-many dropout
# networks". Dropout is a cheap way to train and average a huge ensemble of networks that share
# their weights.
#
# ## Why it helps: co-adaptation
#
# "This technique reduces complex co-adaptations of neurons, since a neuron cannot rely on the
# presence of particular other neurons. It is, therefore, forced to learn more robust features that
# are useful in conjunction with many different random subsets of the other neurons" (§4.2). A
# neuron of fc7 that only works when three particular neurons of fc6 fire together is useless when
# one of them is missing half the time; what survives is features that are useful on their own.
#
# ## Where it sits in AlexNet
#
# "We use dropout in the first two fully-connected layers" (§4.2): on the outputs of fc6 and fc7,
# after their ReLU. Our CIFAR-sized network has the same classifier with 512 instead of 4096 units:

# %%
CifarAlexNet().classifier

# %% [markdown]
# (torchvision's `alexnet` puts its two dropout layers *before* fc6 and fc7 instead, dropping the
# pooled conv5 features and fc6's outputs; its maintainers know and keep it for compatibility,
# pytorch/vision#549.)
#
# ## Measuring overfitting, live
#
# Overfitting is the gap between the error on the training images and the error on new ones. It
# lives where the parameters are, and in AlexNet nearly all of them sit in fc6–fc8 (chapter 1):

# %%
full = AlexNet()
share = sum(p.numel() for p in full.classifier.parameters()) / sum(p.numel() for p in full.parameters())
print(f"share of AlexNet's parameters in fc6-fc8: {share:.1%}")

# %% [markdown]
# That is why the paper drops out there. A whole `CifarAlexNet` needs many epochs before it overfits, far more than
# a page of this book can spend on a CPU. So we isolate the part that matters: AlexNet's
# fully-connected classifier (`alexnet.dropout.fc_head`: fc6 → ReLU → dropout → fc7 → ReLU →
# dropout → fc8, 512 units), trained directly on the centred pixels of a small subset of real
# CIFAR-10 images, with §5's SGD, momentum and weight decay, for several drop probabilities *p*.
# `alexnet.dropout.fit_head` measures the training error with dropout switched off, exactly as the
# test error is measured, after every epoch.

# %%
train, test = data.cifar10(train=True), data.cifar10(train=False)
centre = transforms.SubtractMean(transforms.fit_mean(train.images))
train_part, test_part = train.subset(HEAD_IMAGES), test.subset(1_000)
inputs = [centre(d.images).flatten(1).to(DEVICE) for d in (train_part, test_part)]
labels = [d.targets.to(DEVICE) for d in (train_part, test_part)]
print(f"{len(train_part):,} training and {len(test_part):,} test images of CIFAR-10, "
      f"{inputs[0].shape[1]:,} pixel values each")

# %%
# NBVAL_IGNORE_OUTPUT
P_VALUES = (0.0, 0.25, 0.5, 0.75)
EPOCHS = 15
histories = {p: dropout.fit_head(inputs[0], labels[0], inputs[1], labels[1], dropout=p,
                                 epochs=EPOCHS, seed=0) for p in P_VALUES}
for p, rows in histories.items():
    last = rows[-1]
    print(f"p = {p:.2f}: training error {last['train_error']:.1%}, test error "
          f"{last['test_error']:.1%}, gap {last['gap']:.1%}")

# %%
def dropout_curves(p):
    """Training and test error per epoch of the live run with drop probability p, beside p = 0."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, key in zip(axes, ("train_error", "test_error")):
        viz.plot_curves({f"p = {q}": histories[q] for q in (0.0, p)}, key, ax=ax)
        ax.set_title(f"fc6-fc8 on {HEAD_IMAGES:,} CIFAR-10 images ({DEVICE})")
    fig.tight_layout()
    return fig


dropout_curves(0.5)
plt.show()

# %% [markdown]
# Without dropout (*p* = 0) the classifier learns its training images by heart: the training error
# falls towards zero while the test error stalls, and the gap between the two is the overfitting.
# With *p* = 0.5 the training error falls more slowly (the paper: dropout "roughly doubles the number
# of iterations required to converge") and the gap is much smaller. The next cell checks both.
# (And *p* = 0.75? Its numbers are printed above: with three quarters of the units gone, the
# classifier may not even fit its training set in this budget.)

# %%
no_dropout, half = histories[0.0][-1], histories[0.5][-1]
assert half["gap"] < no_dropout["gap"] - 0.1, "dropout should shrink the train-test gap"
assert half["train_error"] > no_dropout["train_error"], "dropout should slow the fit of the training set"
print("p = 0.5 overfits less than p = 0 and fits its training set more slowly: True")

# %% [markdown]
# Try the other drop probabilities (the page shows *p* = 0.5; in Colab or Jupyter the slider redraws
# the curves measured above, always beside *p* = 0):

# %%
viz.interactive_figure(dropout_curves,
                       p=widgets.SelectionSlider(options=P_VALUES, value=0.5, description="p"))

# %% [markdown]
# ## The paper's claim, measured on the whole network
#
# The claim `dropout` of `alexnet.reproduce` trains the grouped `CifarAlexNet` with dropout 0.5 in
# fc6 and fc7 and without it, several seeds each, paired by seed, with the paper's augmentation, and
# measures the train–test gap (training error measured like the test error, dropout off) and the
# epochs needed to reach a training error. Its setting and the machine it ran on:

# %%
dropout_claim = reproduce.chapter_result("dropout", FULL_SIZE)

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
curves = viz.seed_curves(dropout_claim["runs"])
viz.plot_curves(curves, "val_top1", ax=axes[0], ylabel="test top-1 error (%)")
viz.plot_curves(curves, "train_top1", ax=axes[1], ylabel="training top-1 error (%), dropout on")
viz.plot_arms(dropout_claim["tests"][0], axes[2])
fig.tight_layout()
plt.show()

# %%
assert {run["variant"] for run in dropout_claim["runs"]} == {"grouped CifarAlexNet (paper's recipe)",
                                                              "no dropout"}
assert all(t["verdict"] in (*reproduce.VERDICTS, "not measured") for t in dropout_claim["tests"])

# %% [markdown]
# The verdict is the statistics' word, not ours: *reproduced* when the 95% interval of the paired
# difference lies on the paper's side of zero. The paper saw "substantial overfitting" after 90
# epochs of ImageNet; a few epochs on a subset may not overfit enough for dropout to matter, which
# is what the live experiment above isolates. Chapter 7's ledger has every claim side by side.

# %% [markdown]
# # Part 2: Data augmentation, on real photographs
#
# "The easiest and most common method to reduce overfitting on image data is to artificially
# enlarge the dataset using label-preserving transformations" (§4.1). The paper's transformed
# images are made on the CPU in Python while the GPU trains on the previous batch, so they are
# "in effect, computationally free". We use the package's 1,000 real ILSVRC-2012 photographs, one per
# class (`alexnet.data.imagenet_samples()`).
#
# ## Preprocessing: shorter side 256, central square (§2)
#
# "Given a rectangular image, we first rescaled the image such that the shorter side was of length
# 256, and then cropped out the central 256×256 patch from the resulting image."

# %%
root = data.imagenet_samples()
names = data.imagenet_class_names()
photos = data.image_folder(root, train=False, transform=lambda image: image, verify=False)


def photo(name):
    """The sample photograph of an ImageNet class, as a PIL image (one photograph per class)."""
    return photos[names.index(name)][0]


dog = photo("golden retriever")
square = transforms.downsample(256)(dog)
print(f"{len(photos)} photographs; the golden retriever becomes {square.size[0]}x{square.size[1]}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(6, 4))
for ax, image, title in zip(axes, (dog, square), ("the photograph", "§2: shorter side 256, centre")):
    ax.imshow(image)
    ax.set_title(title, fontsize=9)
plt.show()

# %% [markdown]
# ## Random 224×224 patches and their reflections (§4.1)
#
# "We do this by extracting random 224×224 patches (and their horizontal reflections) from the
# 256×256 images and training our network on these extracted patches. This increases the size of
# our training set by a factor of 2048." `alexnet.transforms.random_crop_flip` draws one patch
# position and one coin flip per image; here eight draws from one photograph:

# %%
balloon = TF.pil_to_tensor(transforms.downsample(256)(photo("balloon")))
generator = torch.Generator().manual_seed(0)
top, left, flip = transforms.random_crop_flip_params(8, 256, 256, 224, generator=generator)
patches = transforms.crop_flip(balloon.expand(8, -1, -1, -1), top, left, flip, 224)
titles = [f"({t}, {l}){' mirrored' if f else ''}" for t, l, f in
          zip(top.tolist(), left.tolist(), flip.tolist())]
viz.show_images(patches, titles, ncols=4, suptitle="eight random patches (top, left)")
plt.show()

# %% [markdown]
# Where does 2048 come from? A 224-pixel patch of a 256-pixel side can start at any offset from 0
# to 256 − 224 = 32:

# %%
print("the paper's count, 32 x 32 offsets x 2 reflections:", 32 * 32 * 2)
print("every offset from 0 to 32, as cuda-convnet2 draws them:", (256 - 224 + 1) ** 2 * 2)

# %% [markdown]
# The paper's 2048 is (256 − 224)² · 2; Krizhevsky's later code draws offsets 0 to 32 inclusive, 2178
# patches. The patches overlap heavily, so they are far from independent images, but "without this
# scheme, our network suffers from substantial overfitting, which would have forced us to use much
# smaller networks".
#
# ## PCA colour augmentation (§4.1)
#
# The second form alters "the intensities of the RGB channels in training images". The paper
# computes the principal components of the RGB values of all ImageNet training pixels, then adds to
# every pixel of an image
#
# $$[\mathbf{p}_1, \mathbf{p}_2, \mathbf{p}_3]\,[\alpha_1\lambda_1, \alpha_2\lambda_2, \alpha_3\lambda_3]^T,$$
#
# where **p**ᵢ and λᵢ are the eigenvectors and eigenvalues of the 3×3 covariance of RGB values and
# each αᵢ is drawn from a Gaussian with mean 0 and standard deviation 0.1, once per image each time
# it is used. The paper does not publish its eigenvectors; the package ships the ones that
# fb.resnet.torch and most PyTorch ports use (`IMAGENET_EIGVAL`, `IMAGENET_EIGVEC`). We can fit our
# own on the 1,000 sample photographs with `alexnet.transforms.fit_pca_lighting` (on copies at 64×64
# pixels, which is plenty for a 3×3 covariance):

# %%
import tempfile
from pathlib import Path

with tempfile.TemporaryDirectory() as folder:
    small = data.pack_image_folder(root, Path(folder) / "samples64.pt", size=64, progress=False)
eigval, eigvec = transforms.fit_pca_lighting(small.images)
cosines = (eigvec.T @ transforms.IMAGENET_EIGVEC).diagonal().abs()
print(f"fitted on {len(small.images):,} photographs ({small.images[:, 0].numel():,} pixels)")

# %%
# NBVAL_IGNORE_OUTPUT
print("eigenvalues (0-255 scale)  ours:", [round(v) for v in eigval.tolist()],
      "  ImageNet constants:", [round(v) for v in transforms.IMAGENET_EIGVAL.tolist()])
print("|cosine| between our eigenvectors and ImageNet's:", [round(c, 4) for c in cosines.tolist()])

# %%
assert (cosines > 0.99).all(), "the colour directions of 1,000 photographs match ImageNet's"
assert eigval[0] > 5 * eigval[1] > 5 * eigval[2] > 0
print("the same three colour directions; the first one carries most of the variance: True")

# %% [markdown]
# The first direction is almost (1, 1, 1)/√3: brightness. The other two are colour contrasts, roughly
# red against blue and green against magenta. A thousand photographs already find the same directions
# as the whole training set. The noise moves an image along them, mostly along brightness:
# "object identity is invariant to changes in the intensity and color of the illumination".
#
# How large is the shift? The paper's αλ has units of pixel², so its size depends on the pixel scale
# on which it is evaluated. fb.resnet.torch evaluates it on the 0–1 scale, which this package
# follows; Krizhevsky's own later code multiplies α by √λ instead (paper-notes §4.3). The standard
# deviation of the shift along each component, in 0–255 units:

# %%
lam = transforms.IMAGENET_EIGVAL
print("alpha * lambda (0-1 scale), this package:", [round(v, 2) for v in (0.1 * lam / 255).tolist()])
print("alpha * sqrt(lambda), cuda-convnet2     :", [round(v, 2) for v in (0.1 * lam.sqrt()).tolist()])

# %% [markdown]
# Either way it is a subtle change, a few grey levels out of 255. Here is the lorikeet under six
# draws of the paper's noise, and under six draws ten times as strong to make the directions visible:

# %%
bird = transforms.center_crop(TF.pil_to_tensor(transforms.downsample(256)(photo("lorikeet"))),
                              224).float()


def lit(alpha_std, draws=6, seed=0):
    """`draws` copies of the lorikeet, each with its own PCA lighting draw of strength alpha_std."""
    lighting = transforms.PCALighting(transforms.IMAGENET_EIGVAL, transforms.IMAGENET_EIGVEC,
                                      alpha_std)
    return lighting(bird.expand(draws, -1, -1, -1), torch.Generator().manual_seed(seed))


viz.show_images(torch.cat([lit(0.1), lit(1.0)]), ncols=6,
                suptitle="PCA lighting: top row the paper's α std 0.1, bottom row 1.0")
plt.show()

# %% [markdown]
# Vary the strength yourself (the page shows the paper's 0.1):

# %%
def lighting_draws(alpha_std):
    """Six PCA lighting draws of strength alpha_std on the lorikeet."""
    return viz.show_images(lit(alpha_std), ncols=6, suptitle=f"α std {alpha_std}")


viz.interactive_figure(lighting_draws, alpha_std=widgets.FloatSlider(
    value=0.1, min=0.0, max=2.0, step=0.1, description="α std"))

# %% [markdown]
# ## Ten patches at test time (§4.1)
#
# "At test time, the network makes a prediction by extracting five 224×224 patches (the four corner
# patches and the center patch) as well as their horizontal reflections (hence ten patches in all),
# and averaging the predictions made by the network's softmax layer on the ten patches."
# `alexnet.transforms.ten_crop_batch` cuts them and `ten_crop_predict` averages the softmax:

# %%
bus = TF.pil_to_tensor(transforms.downsample(256)(photo("school bus")))
ten = transforms.ten_crop_batch(bus, 224)
where = ["top left", "top right", "bottom left", "bottom right", "centre"]
viz.show_images(ten, where + [f"mirror image, {w}" for w in where], ncols=5)
plt.show()
print("patches:", tuple(ten.shape))

# %% [markdown]
# ## The paper's claims, measured
#
# §4.1 makes three claims: without the patches and reflections the network "suffers from
# substantial overfitting"; PCA lighting "reduces the top-1 error rate by over 1%"; and averaging
# ten patches beats a single one (a footnote gives 39.0% → 37.5% top-1 on ILSVRC-2010). The claim
# `augmentation` of `alexnet.reproduce` tests all three on CIFAR-10, where the analogue of a 224
# patch of a 256 image is a 32 patch of the 32×32 image padded by 4 pixels (9² positions instead of
# 33²).

# %%
augmentation = reproduce.chapter_result("augmentation", FULL_SIZE)

# %%
viz.plot_claim(augmentation)
plt.show()

# %%
assert len(augmentation["tests"]) == 3
assert all(t["verdict"] in (*reproduce.VERDICTS, "not measured") for t in augmentation["tests"])

# %% [markdown]
# ## Summary
#
# - Dropout zeroes half of fc6's and fc7's outputs at every step; the paper halves the outputs at
#   test time, PyTorch doubles the survivors in training. Same expectations, same predictions.
# - On AlexNet's classifier the effect is plain: without dropout the training error races to zero
#   and the test error does not follow; with it the gap shrinks and training takes longer.
# - The paper's augmentation turns each 256×256 image into 2048 patches (2178 by Krizhevsky's code),
#   shifts its colours along the three principal components of natural images, and averages ten
#   patches at test time. Whether each of these measurably helps at our scale is for the numbers
#   above, and for chapter 7's ledger, to say.

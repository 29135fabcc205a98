r"""The paper's input pipeline: §2 (preprocessing) and §4.1 (data augmentation, ten-crop testing).

**Pixel scale.** The network sees *centred raw RGB*: float32 pixel values on the 0–255 scale minus
the training set's mean (§2: "subtracting the mean activity over the training set from each pixel"),
not the unit-variance inputs of torchvision's recipes. This matters: the LRN constants of §3.3
(``k=2``, ``α=1e-4``) were tuned for activities of that size. Every float tensor made here is on the
0–255 scale.

The pieces, in the order of the paper:

- §2 :func:`downsample`: shorter side to 256, then the central 256×256 patch (PIL images).
- §2 :func:`fit_mean`, :class:`SubtractMean`: the per-pixel mean image of the training set.
- §4.1 random 224×224 patches and horizontal reflections: torchvision's ``RandomCrop`` for one PIL
  image, :func:`random_crop_flip` for a whole batch of tensors (a different patch per image, on any
  device, so the augmentation can run on the GPU).
- §4.1 :class:`PCALighting`, :func:`fit_pca_lighting`: the PCA colour augmentation.
- §4.1 ten-crop testing: :func:`ten_crop_batch`, :func:`ten_crop_predict`; :class:`TenPatches`
  for cuda-convnet's protocol on CIFAR-10 (24×24 patches of the 32×32 image).

**Where the mean is subtracted.** Here always on the full stored image (256×256, or 32×32 for
CIFAR-10), before cropping, so every crop gets its own window of the per-pixel mean and padding (for
CIFAR-10) is zero in centred units. cuda-convnet2 instead subtracts the *central* 224 window of the
mean image from every crop (its ``convdata.py``); for a per-channel mean the two are identical.

**Which mean** (§2: "subtracting the mean activity over the training set from each pixel"). CIFAR-10
and ImageNet packed by ``alexnet pack`` (:func:`alexnet.data.pack_image_folder`) subtract §2's
per-pixel mean image of their training set, computed when the images are already in memory.
Folders of JPEGs decoded on the fly subtract torchvision's per-channel ImageNet mean
(:data:`IMAGENET_MEAN`) instead: the per-pixel mean would need a full decoding pass over the
training set before the first step (1.2 million JPEGs for ImageNet), and ImageNet's mean image is
nearly flat (cuda-convnet2's ships with channel means of 127.3, 119.7 and 104.9, within a grey
level of torchvision's), so the departure costs little. :func:`alexnet.departures.departures` lists
it.
"""
from __future__ import annotations

from functools import partial

import torch
import torchvision.transforms.v2 as v2
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn

from .errors import AlexNetError

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_EIGVAL", "IMAGENET_EIGVEC",
    "downsample", "fit_mean", "SubtractMean", "fit_pca_lighting", "PCALighting",
    "train_transform", "eval_transform", "ten_crop_transform",
    "random_crop_flip_params", "crop_flip", "random_crop_flip", "center_crop",
    "ten_crop_batch", "ten_crop_predict", "TenPatches",
]

#: ImageNet's per-channel RGB mean on the 0–255 scale: torchvision's (0.485, 0.456, 0.406) × 255.
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]) * 255
#: Eigenvalues λ of the ImageNet RGB covariance, fb.resnet.torch's (0.2175, 0.0188, 0.0045) given on
#: the 0–1 scale, converted to the 0–255 scale (× 255²). Descending.
IMAGENET_EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045], dtype=torch.float64) * 255**2
#: The matching eigenvectors p_i, as **columns** (RGB rows), from fb.resnet.torch; unit length, so
#: the same on any pixel scale.
IMAGENET_EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009],
                                [-0.5808, -0.0045, -0.8140],
                                [-0.5836, -0.6948, 0.4203]], dtype=torch.float64)


def downsample(size: int = 256) -> v2.Compose:
    """§2: rescale the image so that its shorter side is ``size``, then crop the central square.

    "Given a rectangular image, we first rescaled the image such that the shorter side was of length
    256, and then cropped out the central 256×256 patch from the resulting image."
    """
    return v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size)])


def _chunks(images: Tensor, chunk: int = 1024):
    for i in range(0, len(images), chunk):
        yield images[i:i + chunk].to(torch.float64)


def fit_mean(images: Tensor) -> Tensor:
    """§2: the mean activity at each pixel over the training set, a (3, H, W) float32 image.

    ``images`` is a uint8 (N, 3, H, W) tensor on the 0–255 scale; the sum runs in float64.
    """
    total = sum(x.sum(0) for x in _chunks(images))
    return (total / len(images)).float()


class SubtractMean(nn.Module):
    """§2: subtract the training set's mean, per pixel ((3, H, W) from :func:`fit_mean`) or per
    channel (3 values, e.g. :data:`IMAGENET_MEAN`), giving centred raw RGB on the 0–255 scale.

    A per-pixel mean must have the image's height and width (apply it before cropping).
    """

    def __init__(self, mean: Tensor) -> None:
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32)
        self.register_buffer("mean", mean.view(3, 1, 1) if mean.dim() == 1 else mean)

    def forward(self, x: Tensor) -> Tensor:
        return x.to(torch.float32, copy=True).sub_(self.mean.to(x.device))


def fit_pca_lighting(images: Tensor) -> tuple[Tensor, Tensor]:
    """§4.1: PCA of the RGB pixel values over a uint8 (N, 3, H, W) image set (0–255 scale).

    Returns ``(eigval, eigvec)`` of the 3×3 covariance in float64, eigenvalues λ_i descending and
    eigenvectors p_i as the **columns** of ``eigvec``, the inputs of :class:`PCALighting`.
    """
    total, outer = torch.zeros(3, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64)
    for x in _chunks(images):
        pixels = x.flatten(2)  # (images, 3, pixels)
        total, outer = total + pixels.sum((0, 2)), outer + torch.bmm(pixels, pixels.mT).sum(0)
    n = images[:, 0].numel()
    mean = total / n
    covariance = (outer - n * torch.outer(mean, mean)) / (n - 1)
    eigval, eigvec = torch.linalg.eigh(covariance)  # ascending
    return eigval.flip(0), eigvec.flip(1)


class PCALighting(nn.Module):
    r"""§4.1, PCA colour augmentation: add :math:`[p_1, p_2, p_3][\alpha_1\lambda_1,
    \alpha_2\lambda_2, \alpha_3\lambda_3]^T` to every pixel :math:`I_{xy} = [I^R, I^G, I^B]^T`.

    - ``eigval`` are the eigenvalues λ_i of the RGB covariance **on the 0–255 scale** (descending),
      from :func:`fit_pca_lighting` or :data:`IMAGENET_EIGVAL`, whatever the scale of the images
    - ``eigvec`` holds the eigenvectors p_i as columns (:data:`IMAGENET_EIGVEC`)
    - ``alphastd`` is the standard deviation of α_i ~ N(0, 0.1), drawn once per image per use
    - ``scale`` is the pixel value of white of the images it is applied to: 255 for this package's
      pipeline, 1 for [0, 1] images; the shift is converted to that scale
    - ``sqrt=True`` uses √λ_i in place of λ_i, as Krizhevsky's cuda-convnet2 code did

    **Which λ.** The paper's α·λ has units of pixel², so its size depends on the pixel scale it is
    evaluated on. We follow fb.resnet.torch (and the PyTorch ports of it), which evaluates it on
    the 0–1 scale: λ/255² there, so a shift of V(α ⊙ λ/255²) in [0, 1] units, V(α ⊙ λ)/255 on the
    0–255 scale, whose largest component has a standard deviation of 0.1 · 0.2175 · 255 ≈ 5.5 grey
    levels for ImageNet (0.022 on [0, 1] images). cuda-convnet2 (``--color-noise 0.1``, its
    ``convdata.py``) multiplied α by √λ on the 0–255 scale instead, about 12 grey levels for
    ImageNet (0.047 on [0, 1] images), and also rescaled the image by 1/1.1, which we do not.

    Takes a float (3, H, W) image or an (N, 3, H, W) batch (one draw of α per image) on any device;
    ``generator`` (here or in ``forward``) makes the draws reproducible.
    """

    def __init__(self, eigval: Tensor, eigvec: Tensor, alphastd: float = 0.1, *,
                 scale: float = 255.0, sqrt: bool = False,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        eigval = torch.as_tensor(eigval, dtype=torch.float64)
        if not 0 < float(scale) < float("inf"):
            raise AlexNetError(f"scale is the pixel value of white (255 or 1), got {scale!r}")
        # The shift's size along p_i, in grey levels of the 0–255 scale, then in units of `scale`.
        per_alpha = eigval.sqrt() if sqrt else eigval / 255.0
        self.register_buffer("per_alpha", per_alpha * (scale / 255.0))
        self.register_buffer("eigvec", torch.as_tensor(eigvec, dtype=torch.float64))
        self.alphastd, self.generator = alphastd, generator

    def shift(self, n: int, device: torch.device | str = "cpu",
              generator: torch.Generator | None = None) -> Tensor:
        """The colour shifts V(α ⊙ λ) of ``n`` images, one α draw each: an
        (n, 3) float32 tensor."""
        generator = generator if generator is not None else self.generator
        gen_device = generator.device if generator is not None else device
        alpha = torch.randn(n, 3, generator=generator, device=gen_device)
        alpha = alpha.to(device) * self.alphastd
        size = self.per_alpha.to(device, torch.float32)
        eigvec = self.eigvec.to(device, torch.float32)
        return (alpha * size) @ eigvec.T

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        batch = x if x.dim() == 4 else x.unsqueeze(0)
        out = batch.float() + self.shift(len(batch), x.device, generator)[:, :, None, None]
        return out if x.dim() == 4 else out.squeeze(0)

    def extra_repr(self) -> str:
        return f"alphastd={self.alphastd}, shift per unit α={self.per_alpha.tolist()}"


def _to_float() -> v2.Compose:
    return v2.Compose([v2.PILToTensor(), v2.ToDtype(torch.float32, scale=False)])


def train_transform(mean: Tensor = IMAGENET_MEAN, eigval: Tensor | None = IMAGENET_EIGVAL,
                    eigvec: Tensor = IMAGENET_EIGVEC, crop: int = 224,
                    size: int = 256) -> v2.Compose:
    """§2 + §4.1 for one PIL training image: downsample to 256, subtract the mean, a random 224×224
    patch (offsets 0..32 inclusive), a random horizontal reflection, PCA lighting (skipped when
    ``eigval`` is None). Returns float32 (3, 224, 224), centred, 0–255 scale."""
    lighting = [PCALighting(eigval, eigvec)] if eigval is not None else []
    return v2.Compose([downsample(size), _to_float(), SubtractMean(mean), v2.RandomCrop(crop),
                       v2.RandomHorizontalFlip(), *lighting])


def eval_transform(mean: Tensor = IMAGENET_MEAN, crop: int | None = 224,
                   size: int = 256) -> v2.Compose:
    """§2 for one PIL test image: downsample to 256, subtract the mean, then the central 224×224
    patch (single-crop testing), float32 (3, 224, 224); with ``crop=None`` the whole (3, 256, 256)
    image, from which :func:`ten_crop_predict` cuts §4.1's ten patches."""
    center = [v2.CenterCrop(crop)] if crop else []
    return v2.Compose([downsample(size), _to_float(), SubtractMean(mean), *center])


def ten_crop_transform(mean: Tensor = IMAGENET_MEAN, crop: int = 224,
                       size: int = 256) -> v2.Compose:
    """§4.1 ten-crop testing for one PIL image: downsample, subtract the mean, then the ten patches
    of :func:`ten_crop_batch`. Returns float32 (10, 3, 224, 224); batches are (N, 10, 3, 224, 224),
    which :func:`ten_crop_predict` accepts."""
    return v2.Compose([downsample(size), _to_float(), SubtractMean(mean),
                       v2.Lambda(partial(ten_crop_batch, size=crop))])


def random_crop_flip_params(n: int, height: int, width: int, size: int, padding: int = 0,
                            generator: torch.Generator | None = None,
                            device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, Tensor]:
    """§4.1: one random patch position and reflection per image, ``(top, left, flip)`` of length
    ``n``, in the coordinates of the image padded by ``padding``: ``top`` in
    0..height+2·padding-size inclusive, likewise ``left`` (0..32 for 224 of 256: the 33² positions
    of cuda-convnet2's ``rand % (border + 1)`` in its ``jpeg.cpp``; the paper counts 32², §4.1)."""
    draw = dict(generator=generator, device=generator.device if generator is not None else device)
    top = torch.randint(0, height + 2 * padding - size + 1, (n,), **draw)
    left = torch.randint(0, width + 2 * padding - size + 1, (n,), **draw)
    flip = torch.rand(n, **draw) < 0.5
    return top.to(device), left.to(device), flip.to(device)


def crop_flip(images: Tensor, top: Tensor, left: Tensor, flip: Tensor, size: int,
              padding: int = 0) -> Tensor:
    """Cut the ``size``×``size`` patch at (``top[i]``, ``left[i]``) out of image ``i`` of an
    (N, C, H, W) batch zero-padded by ``padding``, and mirror it where ``flip[i]``.

    One gather over the flattened pixels, no Python loop over images and no padded copy: pixels
    that fall in the padding are set to zero instead.
    """
    n, c, h, w = images.shape
    steps = torch.arange(size, device=images.device)
    rows = top[:, None] + steps - padding                                     # (N, size)
    cols = left[:, None] + torch.where(flip[:, None], steps.flip(0), steps) - padding
    index = rows.clamp(0, h - 1)[:, :, None] * w + cols.clamp(0, w - 1)[:, None, :]
    patches = images.flatten(2).gather(2, index.view(n, 1, -1).expand(n, c, -1))
    patches = patches.view(n, c, size, size)
    if not padding:
        return patches
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    return patches * inside[:, None].to(patches.dtype)


def random_crop_flip(images: Tensor, size: int, padding: int = 0,
                     generator: torch.Generator | None = None) -> Tensor:
    """§4.1 for a batch: a different random ``size``×``size`` patch and a random horizontal
    reflection for every image of an (N, C, H, W) uint8 or float batch, on its own device.

    ``padding`` zero-pads every side first: our CIFAR-10 analogue takes 32×32 patches of the image
    padded by 4, as the paper takes 224 patches of 256; after mean subtraction the pad is the mean.
    """
    n, _, h, w = images.shape
    params = random_crop_flip_params(n, h, w, size, padding, generator, images.device)
    return crop_flip(images, *params, size, padding)


def center_crop(images: Tensor, size: int) -> Tensor:
    """The central ``size``×``size`` patch of (..., H, W) images (torchvision's rounding): the
    single-patch test that §4.1's ten-patch average improves on."""
    return TF.center_crop(images, [size, size])


def ten_crop_batch(images: Tensor, size: int = 224) -> Tensor:
    """§4.1: "the four corner patches and the center patch as well as their horizontal reflections".

    (N, C, H, W) → (N, 10, C, size, size), or (C, H, W) → (10, C, size, size), on any device, in
    torchvision's ``ten_crop`` order: top-left, top-right, bottom-left, bottom-right, centre of
    the image, then the same five of its mirror image (so crop 5 is the mirror of crop 1, crop 6
    of crop 0, crops 7/8 of 3/2, crop 9 of crop 4).
    """
    return torch.stack(TF.ten_crop(images, [size, size]), dim=-4)


@torch.no_grad()
def ten_crop_predict(model: nn.Module, images: Tensor, size: int = 224) -> Tensor:
    """§4.1 test: "averaging the predictions made by the network's softmax layer on the ten
    patches".

    ``images`` is either a mean-subtracted float (N, 3, 256, 256) batch, which is cut into ten
    patches here, or already-cut (N, 10, 3, 224, 224) patches from :func:`ten_crop_transform`.
    Returns (N, classes) probabilities. Call ``model.eval()`` first (dropout off).
    """
    crops = images if images.dim() == 5 else ten_crop_batch(images, size)
    n, k = crops.shape[:2]
    probabilities = model(crops.flatten(0, 1)).float().softmax(-1)
    return probabilities.view(n, k, -1).mean(1)


class TenPatches(nn.Module):
    """§4.1's ten test patches by cuda-convnet's own protocol for CIFAR-10: the network trains on
    random ``size``×``size`` patches of the 32×32 image (no padding; its
    ``CroppedCIFARDataProvider`` uses a border of 4, so 24×24 patches) and is tested on the four
    corner patches, the centre patch and their horizontal reflections (its multiview test).

    Cutting ten 32×32 patches of an image padded by 4 instead would put padding in every corner
    patch; here every patch is all image. (N, C, H, W) → (N, 10, C, size, size) in
    :func:`ten_crop_batch`'s order, so ``[:, TenPatches.CENTRE]`` is the centre patch: the
    single-patch test the average is compared with. Average the ten softmax outputs
    (:func:`ten_crop_predict` with ``size``) for the ten-patch prediction.
    """

    #: Index of the (unreflected) centre patch in the ten.
    CENTRE = 4

    def __init__(self, size: int = 24) -> None:
        super().__init__()
        self.size = size

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[-1] < self.size or images.shape[-2] < self.size:
            raise AlexNetError(f"ten {self.size}×{self.size} patches need images at least that "
                               f"large, got {tuple(images.shape[-2:])}: pass size <= the image")
        return ten_crop_batch(images, self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}"

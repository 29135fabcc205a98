"""The paper's input pipeline (§2, §4.1): geometry of every crop, flips, ten-crop order, PCA colour
statistics, fitted means and eigenvectors."""
import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TVF
from helpers import needs_data, noise_image
from PIL import Image
from torch import nn

from alexnet.transforms import (IMAGENET_EIGVAL, IMAGENET_EIGVEC, IMAGENET_MEAN, PCALighting,
                                SubtractMean, center_crop, crop_flip, downsample, eval_transform,
                                fit_mean, fit_pca_lighting, random_crop_flip,
                                random_crop_flip_params, ten_crop_batch, ten_crop_predict,
                                ten_crop_transform, train_transform)

devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def as_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)


# ---------------------------------------------------------------- §2 preprocessing and the mean

def test_downsample_rescales_shorter_side_then_takes_central_square():
    wide = noise_image(256, 400)                     # shorter side already 256: no resampling
    out = as_tensor(downsample(256)(wide))
    assert out.shape == (3, 256, 256)
    assert torch.equal(out, as_tensor(wide)[:, :, 72:328])   # (400 - 256) / 2 = 72
    tall = noise_image(600, 300)                     # 300x600 -> 256x512 -> central 256x256
    assert downsample(256)(tall).size == (256, 256)


def test_fit_mean_is_the_per_pixel_mean():
    images = torch.randint(0, 256, (2100, 3, 5, 4), dtype=torch.uint8)   # > one 1024 chunk
    mean = fit_mean(images)
    assert mean.dtype == torch.float32 and mean.shape == (3, 5, 4)
    torch.testing.assert_close(mean, images.double().mean(0).float())


def test_subtract_mean_per_pixel_and_per_channel_without_touching_the_input():
    x = torch.rand(2, 3, 4, 4) * 255
    before = x.clone()
    per_pixel = torch.rand(3, 4, 4) * 255
    assert torch.equal(SubtractMean(per_pixel)(x), x - per_pixel)
    assert torch.equal(SubtractMean(IMAGENET_MEAN)(x), x - IMAGENET_MEAN.view(3, 1, 1))
    assert torch.equal(x, before)
    assert torch.allclose(IMAGENET_MEAN, torch.tensor([123.675, 116.28, 103.53]))


# ---------------------------------------------------------------- §4.1 PCA lighting

def random_rotation(seed: int = 0) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed),
                                       dtype=torch.float64))
    return q


def test_fit_pca_lighting_recovers_a_known_covariance():
    v, lam = random_rotation(), torch.tensor([400.0, 100.0, 25.0], dtype=torch.float64)
    z = torch.randn(3, 300_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pixels = (v @ (lam.sqrt()[:, None] * z) + 128).round().clamp(0, 255)
    images = pixels.to(torch.uint8).reshape(3, 3000, 10, 10).transpose(0, 1)   # (N, 3, 10, 10)
    eigval, eigvec = fit_pca_lighting(images)
    assert eigval.dtype == torch.float64 and eigvec.shape == (3, 3)
    # exactly the eigen-decomposition of the pixels' covariance ...
    cov = torch.from_numpy(np.cov(pixels.numpy()))
    torch.testing.assert_close(cov @ eigvec, eigvec * eigval, rtol=1e-9, atol=1e-9)
    assert torch.all(eigval[:-1] > eigval[1:])                          # descending
    torch.testing.assert_close(eigvec.T @ eigvec, torch.eye(3, dtype=torch.float64))
    # ... which recovers the generating one (rounding to integers adds 1/12 to each variance)
    torch.testing.assert_close(eigval, lam + 1 / 12, rtol=0.02, atol=0)
    assert torch.all((eigvec * v).sum(0).abs() > 0.999)                 # same axes, up to sign


def lit(eigval, n=20_000, seed=0, **kw):
    """(shift of each of n images, the lighting module)."""
    lighting = PCALighting(eigval, IMAGENET_EIGVEC, **kw)
    x = torch.zeros(n, 3, 2, 2)
    return lighting(x, torch.Generator().manual_seed(seed)), lighting


def test_pca_lighting_shift_is_constant_over_pixels_and_one_draw_per_image():
    lighting = PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC)
    x = torch.rand(8, 3, 5, 6) * 255
    shift = lighting(x) - x
    assert torch.allclose(shift, shift[:, :, :1, :1].expand_as(shift), atol=1e-4)
    per_image = shift[:, :, 0, 0]
    assert len({tuple(s.tolist()) for s in per_image}) == 8   # a fresh draw per image
    single = lighting(x[0])                                   # one (3, H, W) image works too
    assert single.shape == (3, 5, 6)


def test_pca_lighting_adds_alpha_times_lambda_along_each_eigenvector():
    out, _ = lit(IMAGENET_EIGVAL)
    coefficients = out[:, :, 0, 0].double() @ IMAGENET_EIGVEC      # shift = V (α ⊙ λ/255)
    alpha = coefficients / (IMAGENET_EIGVAL / 255)
    assert alpha.mean(0).abs().max() < 0.003                   # α ~ N(0, 0.1²), 20,000 draws
    torch.testing.assert_close(alpha.std(0), torch.full((3,), 0.1, dtype=torch.float64), rtol=0.03,
                               atol=0)
    correlation = torch.corrcoef(alpha.T) - torch.eye(3, dtype=torch.float64)
    assert correlation.abs().max() < 0.03                      # independent α_i
    # ImageNet's largest component: 0.1 · 0.2175 · 255 ≈ 5.5 on the 0-255 scale (§4.1's α·λ with
    # fb.resnet.torch's λ, given on the 0-1 scale)
    assert math.isclose(coefficients[:, 0].std().item(), 0.1 * 0.2175 * 255, rel_tol=0.03)


def test_pca_lighting_sqrt_is_cuda_convnet2s_variant():
    out, _ = lit(IMAGENET_EIGVAL, sqrt=True)
    coefficients = out[:, :, 0, 0].double() @ IMAGENET_EIGVEC
    expected = 0.1 * IMAGENET_EIGVAL.sqrt()                    # ≈ 11.9 for the top component
    torch.testing.assert_close(coefficients.std(0), expected, rtol=0.03, atol=0)


# The size of the shift along the first eigenvector (its standard deviation), in grey levels of
# 255: α·λ with fb.resnet.torch's ImageNet λ1 = 0.2175 on the 0-1 scale gives 0.1 · 0.2175 · 255 ≈
# 5.5; cuda-convnet2's α·√λ gives 0.1 · √(0.2175 · 255²) ≈ 11.9 (≈ 12 with its own eigenvalues).
LAMBDA_SHIFT, SQRT_SHIFT = 0.1 * 0.2175 * 255, 0.1 * math.sqrt(0.2175) * 255


@pytest.mark.parametrize("sqrt,grey_levels", [(False, LAMBDA_SHIFT), (True, SQRT_SHIFT)],
                         ids=["lambda", "sqrt-lambda"])
@pytest.mark.parametrize("white", [255.0, 1.0], ids=["0-255", "0-1"])
def test_pca_lighting_shift_has_the_same_size_on_both_pixel_scales(sqrt, grey_levels, white):
    """The eigenvalues are given on the 0-255 scale, as the docstring says, and ``scale`` is the
    pixel value of white. Before, on [0, 1] images (scale=1) the λ shift was 65,025× too large
    (≈ 360,000 instead of 0.022) and sqrt=True ignored the scale (≈ 11.9 instead of 0.047)."""
    out, _ = lit(IMAGENET_EIGVAL, sqrt=sqrt, scale=white)
    first = (out[:, :, 0, 0].double() @ IMAGENET_EIGVEC)[:, 0].std().item()
    assert math.isclose(first, grey_levels * white / 255, rel_tol=0.03)
    assert (5.4 if not sqrt else 11.7) < first * 255 / white < (5.7 if not sqrt else 12.1)


@pytest.mark.parametrize("sqrt", [False, True])
def test_pca_lighting_is_the_same_on_the_unit_scale(sqrt):
    x = torch.rand(4, 3, 3, 3) * 255
    on_255 = PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC, sqrt=sqrt)(
        x, torch.Generator().manual_seed(3))
    on_1 = PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC, sqrt=sqrt, scale=1.0)(
        x / 255, torch.Generator().manual_seed(3))
    torch.testing.assert_close(on_1 * 255, on_255, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("device", devices)
def test_pca_lighting_runs_on_the_images_device(device):
    x = torch.zeros(5, 3, 4, 4, device=device)
    out = PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC)(x, torch.Generator().manual_seed(0))
    assert out.device.type == device and out.dtype == torch.float32
    lighting = PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC)
    expected = lighting(x.cpu(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.cpu(), expected)         # a CPU generator: the same draws


def test_pca_lighting_generator_makes_it_reproducible():
    x = torch.zeros(4, 3, 2, 2)
    lighting = PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC,
                           generator=torch.Generator().manual_seed(7))
    first = lighting(x)
    assert torch.equal(first, PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC)(
        x, torch.Generator().manual_seed(7)))
    assert not torch.equal(first, lighting(x))                # the generator moves on


# ---------------------------------------------------------------- §4.1 crops and flips

def test_crop_offsets_cover_0_to_32_inclusive():
    top, left, flip = random_crop_flip_params(20_000, 256, 256, 224,
                                              generator=torch.Generator().manual_seed(0))
    for offsets in (top, left):
        assert offsets.min() == 0 and offsets.max() == 32
        assert len(offsets.unique()) == 33                    # 33² positions (cuda-convnet2's rand % 33)
    assert 0.48 < flip.float().mean() < 0.52


def window(image, top, left, size, flip):
    patch = image[:, top:top + size, left:left + size]
    return patch.flip(-1) if flip else patch


@pytest.mark.parametrize("device", devices)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_random_crop_flip_takes_each_images_own_window(device, dtype):
    images = torch.randint(0, 256, (64, 3, 20, 24), dtype=torch.uint8).to(device, dtype)
    params = random_crop_flip_params(64, 20, 24, 16, generator=torch.Generator().manual_seed(1),
                                     device=device)
    out = crop_flip(images, *params, 16)
    assert out.shape == (64, 3, 16, 16) and out.dtype == dtype and out.device.type == device
    top, left, flip = (p.tolist() for p in params)
    for i in range(64):
        assert torch.equal(out[i], window(images[i], top[i], left[i], 16, flip[i]))
    assert len(set(zip(top, left))) > 10 and 0 < sum(flip) < 64   # each image its own patch


def test_random_crop_flip_with_padding_equals_cropping_the_zero_padded_image():
    images = torch.rand(200, 3, 8, 8) + 1                       # no zeros: padding is visible
    gen = torch.Generator().manual_seed(2)
    out = random_crop_flip(images, 8, padding=2, generator=gen)
    top, left, flip = random_crop_flip_params(200, 8, 8, 8, 2, torch.Generator().manual_seed(2))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(200):
        assert torch.equal(out[i], window(padded[i], top[i], left[i], 8, flip[i]))
    assert top.max() == 4 and (out == 0).any()


def test_random_crop_flip_is_reproducible_with_a_generator():
    images = torch.rand(16, 3, 10, 10)
    a = random_crop_flip(images, 6, generator=torch.Generator().manual_seed(5))
    b = random_crop_flip(images, 6, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_center_crop_is_the_central_window():
    images = torch.rand(2, 3, 256, 256)
    assert torch.equal(center_crop(images, 224), images[..., 16:240, 16:240])


# ---------------------------------------------------------------- §4.1 ten-crop testing

def test_ten_crop_order_and_content():
    images = torch.rand(2, 3, 256, 256)
    crops = ten_crop_batch(images, 224)
    assert crops.shape == (2, 10, 3, 224, 224)
    x, mirror = images, images.flip(-1)
    five = lambda im: [im[..., :224, :224], im[..., :224, -224:], im[..., -224:, :224],  # noqa: E731
                       im[..., -224:, -224:], im[..., 16:240, 16:240]]
    for k, expected in enumerate(five(x) + five(mirror)):
        assert torch.equal(crops[:, k], expected), k
    # torchvision's order: crops 5..9 are the five crops of the mirror image
    assert torch.equal(crops[:, 5], crops[:, 1].flip(-1))
    assert torch.equal(crops[:, 6], crops[:, 0].flip(-1))
    single = ten_crop_batch(images[0], 224)
    assert torch.equal(single, torch.stack(TVF.ten_crop(images[0], [224, 224])))


class MeanColour(nn.Module):
    """A stand-in network: logits from each crop's mean colour."""

    def forward(self, x):
        return x.mean((2, 3)) @ torch.tensor([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0]])


def test_ten_crop_predict_averages_the_softmax_of_the_ten_patches():
    images = torch.randn(3, 3, 40, 40)
    probabilities = ten_crop_predict(MeanColour(), images, 32)
    crops = ten_crop_batch(images, 32)
    expected = torch.stack([MeanColour()(crops[:, k]).softmax(-1) for k in range(10)], 1).mean(1)
    torch.testing.assert_close(probabilities, expected)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(3))
    torch.testing.assert_close(ten_crop_predict(MeanColour(), crops), expected)   # 5-d input


# ---------------------------------------------------------------- PIL pipelines

def locate(patch, image):
    """Every (top, left, flipped) window of ``image`` that equals ``patch``."""
    size, found = patch.shape[-1], []
    for r, c in (image == patch[:, 0, 0, None, None]).all(0).nonzero().tolist():
        for top, left, flip in ((r, c, False), (r, c - size + 1, True)):   # the corner's source
            if 0 <= top <= image.shape[1] - size and 0 <= left <= image.shape[2] - size \
                    and torch.equal(patch, window(image, top, left, size, flip)):
                found.append((top, left, flip))
    return found


def test_train_transform_is_a_random_window_of_the_centred_image_maybe_flipped():
    image = noise_image(256, 256)
    centred = as_tensor(image).float() - IMAGENET_MEAN.view(3, 1, 1)
    transform = train_transform(eigval=None)
    torch.manual_seed(0)
    seen = []
    for _ in range(40):
        out = transform(image)
        assert out.shape == (3, 224, 224) and out.dtype == torch.float32
        [position] = locate(out, centred)                  # offsets are in 0..32 by construction
        seen.append(position)
    assert {flip for *_, flip in seen} == {False, True} and len(set(seen)) > 30


def test_train_transform_pca_lighting_shifts_the_whole_patch_by_one_colour():
    flat = Image.new("RGB", (300, 256), (200, 100, 50))
    out = train_transform()(flat)
    shift = out - (torch.tensor([200.0, 100.0, 50.0]) - IMAGENET_MEAN).view(3, 1, 1)
    assert torch.allclose(shift, shift[:, :1, :1].expand_as(shift), atol=1e-3)
    assert 0 < shift.abs().max() < 60


def test_eval_and_ten_crop_transforms():
    image = noise_image(256, 320)
    centred = as_tensor(image)[:, :, 32:288].float() - IMAGENET_MEAN.view(3, 1, 1)
    assert torch.equal(eval_transform()(image), centred[:, 16:240, 16:240])
    assert torch.equal(eval_transform(crop=None)(image), centred)
    assert torch.equal(ten_crop_transform()(image), ten_crop_batch(centred, 224))


@needs_data
def test_pipeline_on_a_real_imagenet_photograph(imagenet_root):  # noqa: F811
    photo = Image.open(next((imagenet_root / "n01440764").iterdir()))
    assert min(photo.size) == 256
    assert train_transform()(photo).shape == (3, 224, 224)
    crops = ten_crop_transform()(photo)
    assert crops.shape == (10, 3, 224, 224)
    assert -130 < crops.mean() < 130                        # centred raw RGB, not unit scale

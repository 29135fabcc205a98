"""Data sets and loaders: offline CIFAR-10 and ImageNet samples, image folders and their errors,
packed files, and the loaders' reproducibility and sharding (§2, §4.1)."""
import math
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_image_folder, needs_data, noise_image
from PIL import Image

from alexnet.data import (CIFAR10_CLASSES, BatchLoader, FolderLoader, TensorImages, build_loaders,
                          build_test_loader, cifar10, image_folder, imagenet_class_names,
                          load_packed, load_rgb, pack_image_folder, worker_killed)
from alexnet.errors import AlexNetError
from alexnet.transforms import IMAGENET_MEAN, downsample, fit_mean

LAYOUT = "root/<class>/<image>.jpg, one subfolder of images per class"


# ---------------------------------------------------------------- CIFAR-10, offline

@needs_data
def test_cifar10_has_50000_and_10000_images_in_torchvisions_class_order(cifar_train, cifar_test):
    assert cifar_train.images.shape == (50_000, 3, 32, 32)
    assert cifar_train.images.dtype == torch.uint8
    assert cifar_test.images.shape == (10_000, 3, 32, 32)
    assert cifar_train.targets.dtype == torch.int64
    assert cifar_train.targets.bincount().tolist() == [5000] * 10
    assert cifar_test.targets.bincount().tolist() == [1000] * 10
    # torchvision.datasets.CIFAR10(...).classes, from the original batches.meta
    assert cifar_train.classes == CIFAR10_CLASSES == [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@needs_data
def test_cifar10_pixels_are_rgb_and_match_the_jpegs(cifar_train, cifar_test, offline):
    # the well-known CIFAR-10 channel means (R 125.3, G 123.0, B 113.9): RGB order, 0-255 scale
    means = fit_mean(cifar_train.images).double().mean((1, 2))
    torch.testing.assert_close(means, torch.tensor([125.3, 123.0, 113.9], dtype=torch.float64),
                               atol=1.5, rtol=0)
    with tarfile.open(offline / "cifar10-jpeg.tar.gz") as archive:
        member = next(m for m in archive if m.name == "cifar10-jpeg/test/cat/0000.jpg")
        jpeg = Image.open(archive.extractfile(member)).convert("RGB")
    expected = torch.from_numpy(np.asarray(jpeg).copy()).permute(2, 0, 1)
    assert cifar_test.targets[3000] == CIFAR10_CLASSES.index("cat")    # class by class, 1000 each
    assert torch.equal(cifar_test.images[3000], expected)


@needs_data
def test_cifar10_is_cached_outside_alexnet_data(cifar_train, offline, session_cache):
    files = sorted(p.name for p in session_cache.iterdir())
    assert "cifar10-jpeg-train.pt" in files and "cifar10-jpeg-test.pt" in files
    assert not [name for name in files if name.endswith(".tmp")]          # written atomically
    again = cifar10(train=True)                                          # read back from the cache
    assert torch.equal(again.images[::997], cifar_train.images[::997])


def write_cifar_folder(root, per_class=2):
    """A CIFAR-10-shaped folder: cifar10-jpeg/{train,test}/<class>/NNNN.jpg."""
    for split in ("train", "test"):
        for c, name in enumerate(CIFAR10_CLASSES):
            folder = root / "cifar10-jpeg" / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                image = Image.new("RGB", (32, 32), (20 * c, 100, 250 - 20 * c))
                image.save(folder / f"{i:04d}.jpg", quality=100)


def test_cifar10_reads_an_extracted_folder(tmp_path, monkeypatch):
    write_cifar_folder(tmp_path / "data")
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cache"))
    test = cifar10(train=False)
    assert len(test) == 20 and test.targets.tolist() == [c for c in range(10) for _ in range(2)]
    assert abs(int(test.images[4, 0, 5, 5]) - 40) <= 2      # class 2 ("bird") has red 40
    assert (tmp_path / "cache" / "cifar10-jpeg-train.pt").exists()


def test_alexnet_data_set_to_a_missing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(AlexNetError) as error:
        cifar10()
    assert str(error.value) == (
        f"ALEXNET_DATA={tmp_path / 'nowhere'} is not a folder: point it at the folder that holds "
        "cifar10-jpeg.tar.gz and imagenet-samples-256.tar.gz, or unset it to download")


def test_alexnet_data_without_the_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cache"))
    for load, archive, folder in ((cifar10, "cifar10-jpeg.tar.gz", "cifar10-jpeg"),
                                  (imagenet_class_names, "imagenet-samples-256.tar.gz",
                                   "imagenet-samples")):
        with pytest.raises(AlexNetError) as error:
            load()
        assert str(error.value) == (
            f"ALEXNET_DATA={tmp_path} holds neither {archive} nor {folder}/: copy {archive} there "
            "(from the project's shared datasets), or unset ALEXNET_DATA to download")


def test_alexnet_data_with_a_corrupt_archive(tmp_path, monkeypatch):
    (tmp_path / "cifar10-jpeg.tar.gz").write_bytes(b"not a tar file")
    monkeypatch.setenv("ALEXNET_DATA", str(tmp_path))
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cache"))
    with pytest.raises(AlexNetError, match="tar.gz is not a readable CIFAR-10 archive"):
        cifar10()


# ---------------------------------------------------------------- ImageNet samples

@needs_data
def test_imagenet_samples_have_1000_classes_with_names(imagenet_root, offline, session_cache):
    dataset = image_folder(imagenet_root, train=False)
    assert len(dataset.classes) == 1000 and len(dataset) == 1000
    assert dataset.classes[0] == "n01440764" and dataset.targets[:3] == [0, 1, 2]
    names = imagenet_class_names()
    assert len(names) == 1000 and names[:3] == ["tench", "goldfish", "great white shark"]
    image, target = dataset[0]
    assert image.shape == (3, 224, 224) and image.dtype == torch.float32 and target == 0
    # read in place when extracted there, else extracted once into the cache, never into the data
    assert imagenet_root in (offline / "imagenet-samples", session_cache / "imagenet-samples")


# ---------------------------------------------------------------- image folders

def test_image_folder_errors(tmp_path):
    with pytest.raises(AlexNetError) as error:
        image_folder(tmp_path / "missing", train=True)
    assert str(error.value) == (f"image folder {tmp_path / 'missing'} does not exist: pass a "
                                f"folder laid out as {LAYOUT}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AlexNetError) as error:
        image_folder(tmp_path / "empty", train=True)
    assert str(error.value) == f"image folder {tmp_path / 'empty'} is empty: lay it out as {LAYOUT}"
    (tmp_path / "flat").mkdir()
    noise_image(30, 30).save(tmp_path / "flat" / "a.png")
    with pytest.raises(AlexNetError) as error:
        image_folder(tmp_path / "flat", train=True)
    assert str(error.value) == (f"image folder {tmp_path / 'flat'} has no class folders: lay it "
                                f"out as {LAYOUT}")


def test_image_folder_skips_corrupt_files_with_one_warning(tmp_path):
    root = make_image_folder(tmp_path / "images")
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG")
    (root / "dog" / "empty.png").write_bytes(b"")
    (root / "cat" / "notes.txt").write_text("not an image, silently ignored")
    (root / ".ipynb_checkpoints").mkdir()                              # not a class
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = image_folder(root, train=True)
    assert [str(w.message) for w in caught] == [
        f"skipped 2 unreadable image file(s) in {root}: dog/broken.jpg, dog/empty.png"]
    assert len(dataset) == 4 and dataset.classes == ["cat", "dog"]
    assert dataset[3][0].shape == (3, 224, 224)


def test_image_folder_with_only_unreadable_files(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "broken.jpg").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"), pytest.raises(
            AlexNetError, match="has class folders without readable images"):
        image_folder(tmp_path, train=False)


def test_grayscale_palette_and_cmyk_images_become_rgb(tmp_path):
    colour = (200, 120, 40)
    (tmp_path / "a").mkdir()
    Image.new("L", (64, 64), 100).save(tmp_path / "a" / "gray.png")
    palette = Image.new("RGB", (64, 64), colour).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.save(tmp_path / "a" / "palette.png", transparency=1)         # a transparent index
    cmyk = Image.new("RGB", (64, 64), colour).convert("CMYK")
    cmyk.save(tmp_path / "a" / "cmyk.jpg", quality=100)
    Image.new("RGBA", (64, 64), colour + (128,)).save(tmp_path / "a" / "rgba.png")
    for name, expected in [("gray.png", (100,) * 3), ("palette.png", colour), ("cmyk.jpg", colour),
                           ("rgba.png", colour)]:
        image = load_rgb(tmp_path / "a" / name)
        assert image.mode == "RGB"
        assert np.abs(np.asarray(image).astype(int) - expected).max() <= 3, name
    dataset = image_folder(tmp_path, train=False)
    for image, _ in dataset:
        assert image.shape == (3, 224, 224)
    gray = dataset.samples.index((str(tmp_path / "a" / "gray.png"), 0))
    torch.testing.assert_close(dataset[gray][0][:, 100, 100], 100 - IMAGENET_MEAN)


@pytest.mark.parametrize("mode,dtype", [("I;16", "<u2"), ("I;16B", ">u2")])
def test_16_bit_grayscale_is_scaled_to_8_bits(tmp_path, mode, dtype):
    """§2's input is 8-bit RGB. PIL's own convert("RGB") clips 16-bit pixels (257 and 65535 both
    become 255); load_rgb scales them: 65535 is white, 32768 mid-grey, 257 one grey level."""
    levels = np.array([[0, 128, 257, 32768, 65535]], dtype=dtype)
    Image.frombytes(mode, (5, 1), levels.tobytes()).save(tmp_path / "deep.png")
    image = load_rgb(tmp_path / "deep.png")
    assert image.mode == "RGB"
    assert np.asarray(image)[0, :, 0].tolist() == [0, 0, 1, 128, 255]


def test_images_without_a_white_level_are_refused_by_name(tmp_path):
    Image.fromarray(np.full((4, 4), 7, dtype=np.int32)).save(tmp_path / "counts.tif")
    with pytest.raises(AlexNetError) as error:
        load_rgb(tmp_path / "counts.tif")
    assert str(error.value) == (f"image {tmp_path / 'counts.tif'} has 32-bit integer pixels (PIL "
                                "mode I), whose white level is unknown: convert it to 8-bit RGB "
                                "(or 16-bit PNG), or remove it")


def test_hidden_files_and_folders_inside_a_class_are_not_images(tmp_path):
    make_image_folder(tmp_path, classes=("cat", "dog"), per_class=1)
    noise_image(40, 30).save(tmp_path / "cat" / "._0.png")          # a macOS resource fork
    (tmp_path / "cat" / ".ipynb_checkpoints").mkdir()
    noise_image(40, 30).save(tmp_path / "cat" / ".ipynb_checkpoints" / "0.png")
    (tmp_path / "cat" / "more").mkdir()
    noise_image(40, 30).save(tmp_path / "cat" / "more" / "1.png")
    dataset = image_folder(tmp_path, train=False, verify=False)
    assert [Path(p).relative_to(tmp_path).as_posix() for p, _ in dataset.samples] == [
        "cat/0.png", "cat/more/1.png", "dog/0.png"]


# ---------------------------------------------------------------- packed files

def test_pack_and_load_round_trip(tmp_path):
    root = make_image_folder(tmp_path / "images", size=(300, 260))
    packed = pack_image_folder(root, tmp_path / "out" / "packed.pt", progress=False)
    loaded = load_packed(tmp_path / "out" / "packed.pt")
    assert loaded.images.shape == (4, 3, 256, 256) and loaded.images.dtype == torch.uint8
    assert loaded.targets.tolist() == [0, 0, 1, 1] and loaded.classes == ["cat", "dog"]
    assert torch.equal(loaded.images, packed.images)
    image = Image.open(root / "dog" / "1.png")                          # §2: resize, centre crop
    expected = torch.from_numpy(np.asarray(downsample(256)(image)).copy()).permute(2, 0, 1)
    assert torch.equal(loaded.images[3], expected)


def test_load_packed_errors(tmp_path):
    with pytest.raises(AlexNetError) as error:
        load_packed(tmp_path / "none.pt")
    assert str(error.value) == (f"packed data file {tmp_path / 'none.pt'} does not exist: create "
                                "it with `python -m alexnet pack FOLDER FILE`")
    good = TensorImages(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]),
                        ["a", "b"])
    torch.save(good.state_dict(), tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(AlexNetError) as error:
        load_packed(tmp_path / "cut.pt")
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'cut.pt'} is not a readable packed data file (")
    assert message.endswith("): delete it and create it again with `python -m alexnet pack`")
    torch.save({"model": {"w": torch.zeros(1)}}, tmp_path / "checkpoint.pt")
    with pytest.raises(AlexNetError) as error:
        load_packed(tmp_path / "checkpoint.pt")
    assert str(error.value) == (f"{tmp_path / 'checkpoint.pt'} is not a packed data file (it has "
                                "no images, targets and classes): pass a file written by "
                                "`python -m alexnet pack`")


def test_tensor_images_checks_and_subsets():
    with pytest.raises(AlexNetError) as error:
        TensorImages(torch.zeros(2, 3, 4, 4), torch.tensor([0, 1]), ["a", "b"])
    assert str(error.value) == ("images must be uint8 (N, 3, H, W) on the 0-255 scale, got "
                                "torch.float32 (2, 3, 4, 4): store raw RGB pixels")
    images = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1).expand(100, 3, 2, 2)
    data = TensorImages(images, torch.arange(100) // 10, [str(c) for c in range(10)])
    assert data.subset(20).targets.bincount().tolist() == [2] * 10     # spread over the classes
    assert data.subset([5, 7]).images[:, 0, 0, 0].tolist() == [5, 7]
    with pytest.raises(AlexNetError, match="a subset of 101 images must be between 1 and the 100"):
        data.subset(101)


# ---------------------------------------------------------------- loaders

def numbered(n=103):
    """Images whose pixels hold their own index, so a batch tells which images it has."""
    images = (torch.arange(n) % 256).to(torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4)
    return TensorImages(images, torch.arange(n), ["x"])


def epoch(loader, e):
    loader.set_epoch(e)
    return [(x.clone(), y.clone()) for x, y in loader]


def test_batch_loader_is_reproducible_per_seed_and_epoch():
    kw = dict(augment=True, padding=1, seed=3)
    a, b = BatchLoader(numbered(), 10, **kw), BatchLoader(numbered(), 10, **kw)
    first = epoch(a, 0)
    assert len(first) == len(a) == 11 and first[-1][1].shape == (3,)
    x, y = first[0]
    assert x.shape == (10, 3, 4, 4) and x.dtype == torch.float32 and y.dtype == torch.int64
    for (xa, ya), (xb, yb) in zip(first, epoch(b, 0)):     # a fresh loader: a resumed run
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    second = epoch(a, 1)
    assert not torch.equal(torch.cat([y for _, y in first]), torch.cat([y for _, y in second]))
    again = epoch(a, 0)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(first, again))
    other_seed = epoch(BatchLoader(numbered(), 10, augment=True, padding=1, seed=4), 0)
    assert not torch.equal(first[0][1], other_seed[0][1])
    assert sorted(torch.cat([y for _, y in first]).tolist()) == list(range(103))  # each once


def test_batch_loader_shards_disjoint_equal_shares():
    shares = [torch.cat([y for _, y in epoch(BatchLoader(numbered(), 8, rank=r, world_size=3), 2)])
              for r in range(3)]
    assert [len(s) for s in shares] == [34, 34, 34]              # 103 cut to 102, then / 3
    everything = torch.cat(shares)
    assert len(everything.unique()) == 102
    assert len(BatchLoader(numbered(), 8, rank=0, world_size=3)) == math.ceil(34 / 8)
    assert len(BatchLoader(numbered(), 8, drop_last=True)) == 103 // 8
    with pytest.raises(AlexNetError, match="rank 3 must be in 0..2 for world_size 3"):
        BatchLoader(numbered(), 8, rank=3, world_size=3)


def test_batch_loader_centres_and_crops_without_augment():
    mean = torch.rand(3, 4, 4) * 10
    loader = BatchLoader(numbered(), 16, shuffle=False, crop=2, mean=mean)
    x, y = next(iter(loader))
    assert y.tolist() == list(range(16))
    expected = numbered().images[:16].float() - mean
    assert torch.equal(x, expected[..., 1:3, 1:3])
    whole = BatchLoader(numbered(), 16, shuffle=False, padding=2, mean=mean)   # ten-crop input
    assert next(iter(whole))[0].shape == (16, 3, 8, 8)


@needs_data
def test_build_loaders_cifar10(offline):
    train, val, info = build_loaders("cifar10", 500, train_subset=1000, seed=1)
    assert (info.num_classes, info.image_size, info.classes) == (10, 32, CIFAR10_CLASSES)
    assert len(train) == 2 and len(val) == 10       # 5,000 held-out training images
    assert val.split == {"held_out": 5000, "of": 50000, "seed": 0}
    assert len(build_test_loader("cifar10", 500)) == 20      # the 10,000 test images, apart
    train.set_epoch(0)
    targets = torch.cat([y for _, y in train])
    assert targets.bincount().tolist() == [100] * 10
    x, y = next(iter(train))
    assert x.shape == (500, 3, 32, 32) and x.dtype == torch.float32
    assert -20 < x.mean() < 20 and 40 < x.std() < 80            # centred raw RGB, 0-255 scale
    x, _ = next(iter(val))
    assert x.shape == (500, 3, 32, 32)
    _, val, _ = build_loaders("cifar10", 500, ten_crop=True, augment=False)
    assert next(iter(val))[0].shape == (500, 3, 40, 40)       # padded by 4: ten 32x32 patches


def test_build_loaders_image_folders(tmp_path):
    for split in ("train", "val"):
        make_image_folder(tmp_path / "data" / split, per_class=3)
    train, val, info = build_loaders(str(tmp_path / "data"), 4, seed=0)
    assert isinstance(train, FolderLoader) and (info.num_classes, info.image_size) == (2, 224)
    assert len(train) == 2 and len(val) == 2
    train.set_epoch(1)
    x, y = next(iter(train))
    assert x.shape == (4, 3, 224, 224) and x.dtype == torch.float32 and y.dtype == torch.int64
    shares = [FolderLoader(image_folder(tmp_path / "data" / "train", train=False), 2, rank=r,
                           world_size=2) for r in range(2)]
    for s in shares:
        s.set_epoch(0)
    seen = [sorted(s.sampler) for s in shares]
    assert len(seen[0]) == len(seen[1]) == 3 and not set(seen[0]) & set(seen[1])
    # evaluation never lists the training images: a corrupt train/ does not matter to it
    (tmp_path / "data" / "train" / "cat" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "data" / "train" / "bird").mkdir()   # a class val/ lacks
    train, val, info = build_loaders(str(tmp_path / "data"), 4, train=False)
    assert train is None and len(val) == 2 and info.num_classes == 2


def test_build_loaders_packed_folder(tmp_path):
    images = make_image_folder(tmp_path / "images", per_class=2, size=(256, 256))
    pack_image_folder(images, tmp_path / "packed" / "train.pt", progress=False)
    pack_image_folder(images, tmp_path / "packed" / "val.pt", progress=False)
    train, val, info = build_loaders(str(tmp_path / "packed"), 3)
    assert isinstance(train, BatchLoader)
    assert info.image_size == 224 and info.classes == ["cat", "dog"]
    assert next(iter(train))[0].shape == (3, 3, 224, 224)
    assert next(iter(val))[0].shape == (3, 3, 224, 224)


def test_packing_stores_the_per_pixel_mean_and_the_loaders_subtract_it(tmp_path):
    """§2: "subtracting the mean activity over the training set from each pixel". `alexnet pack`
    computes the per-pixel mean image of the images it packs; the loaders of a packed folder
    subtract train.pt's from the training and the validation images, also when only validating
    (read without loading train.pt's images)."""
    images = make_image_folder(tmp_path / "images", per_class=2, size=(256, 256))
    train = pack_image_folder(images, tmp_path / "packed" / "train.pt", progress=False)
    pack_image_folder(images, tmp_path / "packed" / "val.pt", progress=False)
    torch.testing.assert_close(train.mean, fit_mean(train.images))
    assert load_packed(tmp_path / "packed" / "train.pt").mean.shape == (3, 256, 256)
    expected = (train.images[:3].float() - train.mean)[..., 16:240, 16:240]
    for flag in (True, False):
        _, val, _ = build_loaders(str(tmp_path / "packed"), 3, train=flag)
        torch.testing.assert_close(next(iter(val))[0], expected)
    _, val, _ = build_loaders(str(tmp_path / "packed"), 3, ten_crop=True)
    torch.testing.assert_close(next(iter(val))[0], train.images[:3].float() - train.mean)


def test_files_packed_without_a_mean_subtract_the_imagenet_channel_mean(tmp_path):
    data = TensorImages(torch.full((2, 3, 256, 256), 100, dtype=torch.uint8), torch.tensor([0, 1]),
                        ["a", "b"])
    for split in ("train", "val"):
        torch.save(data.state_dict(), tmp_path / f"{split}.pt")
    _, val, _ = build_loaders(str(tmp_path), 2)
    torch.testing.assert_close(next(iter(val))[0][:, :, 0, 0], (100 - IMAGENET_MEAN).expand(2, 3))


def test_loaders_know_their_classes_and_batch_size(tmp_path):
    for split in ("train", "val"):
        make_image_folder(tmp_path / "data" / split, per_class=3)
    train, val, info = build_loaders(str(tmp_path / "data"), 4, train_subset=4)
    assert train.classes == val.classes == info.classes == ["cat", "dog"]
    assert (train.batch_size, val.batch_size) == (4, 4)
    assert BatchLoader(TensorImages(torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
                                    torch.tensor([0, 1]), ["x", "y"]), 2).classes == ["x", "y"]


def test_worker_killed_names_only_deaths_of_workers():
    line = worker_killed(RuntimeError("DataLoader worker (pid(s) 4242) exited unexpectedly"), 8)
    assert str(line) == (
        "a data-loading worker process died (DataLoader worker (pid(s) 4242) exited unexpectedly), "
        "most likely killed by the system's out-of-memory killer: use fewer --workers than 8 or a "
        "smaller --batch-size, or give the machine more memory")
    assert worker_killed(RuntimeError("shape mismatch")) is None
    assert worker_killed(ValueError("DataLoader worker")) is None


def test_build_loaders_errors(tmp_path):
    with pytest.raises(AlexNetError) as error:
        build_loaders(str(tmp_path / "nope"), 4)
    assert str(error.value) == (f"data {str(tmp_path / 'nope')!r} is neither 'cifar10' nor a "
                                "folder: pass 'cifar10' or a folder with train/ and val/ (or "
                                "test/) subfolders of class folders")
    make_image_folder(tmp_path / "only" / "train")
    with pytest.raises(AlexNetError) as error:
        build_loaders(str(tmp_path / "only"), 4)
    assert str(error.value) == (f"data folder {tmp_path / 'only'} has no val/ (or test/) subfolder "
                                "(found: train): lay it out as train/<class>/<image> and "
                                "val/<class>/<image>")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batch_loader_keeps_data_and_augmentation_on_cuda():
    from alexnet.transforms import IMAGENET_EIGVAL, IMAGENET_EIGVEC, PCALighting

    lighting = PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC)
    loader = BatchLoader(numbered(), 10, device="cuda", augment=True, padding=1, lighting=lighting)
    assert loader.data.images.is_cuda
    first, again = epoch(loader, 0), epoch(loader, 0)
    assert first[0][0].is_cuda and first[0][1].is_cuda
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(first, again))


# ---------------------------------------------------------------- the online paths, simulated

def test_cifar10_download_path_converts_torchvisions_arrays_in_the_offline_order(tmp_path,
                                                                               monkeypatch):
    import torchvision.datasets

    pixels = np.zeros((5, 32, 32, 3), dtype=np.uint8)                            # N, H, W, C
    pixels[:, 4, 5] = np.arange(5)[:, None] * 10 + np.arange(3)    # image i holds 10 i (+ channel)
    targets = [3, 1, 3, 1, 0]   # release order; the offline copy is class by class, stable

    class FakeCIFAR10:          # what torchvision.datasets.CIFAR10(download=True) holds
        def __init__(self, root, train, download):
            assert download and str(root).startswith(str(tmp_path))
            self.data, self.targets, self.classes = pixels, targets, list(CIFAR10_CLASSES)

    monkeypatch.delenv("ALEXNET_DATA", raising=False)
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path))
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    data = cifar10(train=False)
    assert data.images.shape == (5, 3, 32, 32) and data.targets.tolist() == [0, 1, 1, 3, 3]
    assert data.images.is_contiguous()
    release_index = [4, 1, 3, 0, 2]
    assert (data.images[:, 0, 4, 5] // 10).tolist() == release_index
    assert torch.equal(data.images[3, :, 4, 5], torch.from_numpy(pixels[0, 4, 5]))


def test_imagenet_samples_download_path_lays_out_class_folders(tmp_path, monkeypatch):
    import torchvision.datasets.utils

    def fake_download(url, download_root):   # the GitHub zip: flat <wnid>_<name>.JPEG files
        assert url.startswith("https://github.com/EliSchwartz/imagenet-sample-images/")
        folder = tmp_path / "cache" / "imagenet-sample-images" / "imagenet-sample-images-master"
        folder.mkdir(parents=True)
        noise_image(300, 400).save(folder / "n01440764_tench.JPEG")
        noise_image(512, 256).save(folder / "n01484850_great_white_shark.JPEG")

    monkeypatch.delenv("ALEXNET_DATA", raising=False)
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download)
    assert imagenet_class_names() == ["tench", "great white shark"]
    shark = Image.open(tmp_path / "cache" / "imagenet-samples" / "n01484850" /
                       "n01484850_great_white_shark.JPEG")
    assert shark.size == (256, 512)                        # shorter side 256, as offline

"""Data for the paper's experiments, in one namespace: ``from alexnet import data``.

Three modules hold the code, one concept each; every public name of theirs is here too:

- :mod:`alexnet.datasets`: where the data lives (``ALEXNET_DATA``, ``ALEXNET_CACHE``), CIFAR-10,
  the ImageNet sample photographs, images held as tensors and packed files (§2);
- :mod:`alexnet.folders`: ImageNet-style folders of JPEGs with the paper's transforms, and packing
  them once into uint8 files;
- :mod:`alexnet.loaders`: the loaders of training, validation and test images (§4.1's augmentation
  on the fly), and the validation split of CIFAR-10, which has none of its own (§5).
"""
from __future__ import annotations

from .datasets import (CIFAR10_CLASSES, TensorImages, cache_dir, cifar10, data_dir,
                       imagenet_class_names, imagenet_samples, load_packed, load_rgb, packed_mean,
                       save_atomic, spread)
from .folders import image_folder, pack_image_folder
from .loaders import (CROP, VAL_FRACTION, BatchLoader, DataInfo, FolderLoader, build_loaders,
                      build_test_loader, cifar10_eval_loader, cifar10_loaders, validation_split,
                      worker_killed)

__all__ = [
    "CIFAR10_CLASSES", "TensorImages", "DataInfo", "BatchLoader", "FolderLoader",
    "data_dir", "cache_dir", "cifar10", "imagenet_samples", "imagenet_class_names", "load_rgb",
    "image_folder", "build_loaders", "pack_image_folder", "load_packed", "worker_killed",
    "build_test_loader", "cifar10_eval_loader", "cifar10_loaders", "validation_split", "CROP",
    "VAL_FRACTION", "packed_mean", "save_atomic", "spread",
]

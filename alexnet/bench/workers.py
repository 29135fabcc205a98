"""A training step fed by an image folder, at each number of DataLoader workers, beside the
same step on a batch already in memory: what the workers cost a training process that shares
their cores, against their own CPU share (the measurement behind
:func:`alexnet.runtime.default_workers`)."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..runtime import usable_cpus
from .inputs import jpeg_folder
from .settings import Settings

__all__ = ["bench_workers", "decode_seconds"]


def decode_seconds(dataset, images: int = 48) -> float:
    """CPU seconds to decode and augment one image in this process (one intra-op thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dataset[0]
        start = time.process_time()
        for i in range(images):
            dataset[i % len(dataset)]
        return (time.process_time() - start) / images
    finally:
        torch.set_num_threads(threads)


def _steps(model, optimizer, batches, steps: int) -> float:
    """Seconds per SGD step over ``steps`` batches from ``batches`` (its first batch untimed)."""
    def step(images, labels):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()

    step(*next(batches))                                   # workers started, memory warmed
    start = time.perf_counter()
    for _ in range(steps):
        step(*next(batches))
    return (time.perf_counter() - start) / steps


def bench_workers(s: Settings, steps: int = 6) -> dict:
    """AlexNet() SGD steps (batch ``s.batch_size``) fed by a JPEG folder with 0 .. usable cores
    workers, each run between two runs on an in-memory batch (the reference it is divided by),
    ``s.rounds`` times; the loss is set beside the workers' CPU share (their decoding CPU time
    over the training process's cores × step time)."""
    from ..data import FolderLoader, image_folder
    from ..model import AlexNet

    torch.manual_seed(0)
    model = AlexNet().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    images = torch.randn(s.batch_size, 3, 224, 224) * 60
    labels = torch.randint(0, 1000, (s.batch_size,))
    memory = iter(lambda: (images, labels), None)
    counts = list(range(0, usable_cpus() + 1))
    with tempfile.TemporaryDirectory() as tmp:
        root, source = jpeg_folder(Path(tmp))
        dataset = image_folder(root, train=True, verify=False)
        per_image = decode_seconds(dataset)
        seconds: dict = {w: [] for w in counts}
        reference: dict = {w: [] for w in counts}
        for _ in range(s.rounds):
            for w in counts:
                loader = FolderLoader(dataset, s.batch_size, workers=w, drop_last=True)
                before = _steps(model, optimizer, memory, steps)
                batches = iter(loader)
                seconds[w].append(_steps(model, optimizer, batches, steps))
                del batches
                reference[w].append((before + _steps(model, optimizer, memory, steps)) / 2)
    cores = min(usable_cpus(), torch.get_num_threads())
    rows = {}
    for w in counts:
        slowdown = [a / b for a, b in zip(seconds[w], reference[w])]
        step = statistics.median(reference[w])
        rows[str(w)] = {"step_s": statistics.median(seconds[w]), "in_memory_step_s": step,
                        "slowdown": {"median": statistics.median(slowdown), "min": min(slowdown),
                                     "max": max(slowdown)},
                        "workers_cpu_share": per_image * s.batch_size / (cores * step)}
    return {"workers": rows, "decode_cpu_s_per_image": per_image, "source": source,
            "batch_size": s.batch_size, "steps_per_run": steps, "rounds": s.rounds}

"""The trainer's device paths on the machine at hand, one JSON (bench/device_check.sh calls it).

    python bench/device_paths.py --out paths.json [--device cuda] [--steps 20]

For each AMP mode the device has (:func:`alexnet.runtime.amp_support`) and fp32: images/s of
:meth:`Trainer.train_epoch` on CifarAlexNet (synthetic batches of 128, §5's batch), the syncs per
step (``torch.cuda.set_sync_debug_mode`` warnings; CUDA only), the layout the batches reached the
model in; resume from a run without AMP into fp16 (a fresh gradient scaler); chapter 5's
``dropout.fit_head`` on the device; the LRN the dispatcher picks against float64; the two-tower
check with TF32 on (cuDNN's default) and off (:func:`alexnet.two_tower.logits_difference`).
Each check is recorded with its error instead of stopping the others. On a CPU the same checks run
smaller (the dry run of the device scripts).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
import warnings

import torch

from alexnet import AlexNet, CifarAlexNet, TwoTowerAlexNet
from alexnet.lrn import local_response_norm, local_response_norm_reference
from alexnet.runtime import amp_support, machine, provenance, write_json
from alexnet.train import TrainConfig, Trainer
from alexnet.two_tower import logits_difference


class Synthetic:
    """``steps`` batches of CIFAR-sized images on ``device``, and the layouts the model saw."""

    def __init__(self, steps: int, batch: int, device: torch.device):
        g = torch.Generator(device).manual_seed(0)
        self.batch_size, self.batches = batch, [
            (torch.randn(batch, 3, 32, 32, device=device, generator=g) * 60,
             torch.randint(0, 10, (batch,), device=device, generator=g)) for _ in range(steps)]

    def __iter__(self):
        return iter(self.batches)


def train_mode(amp, device, steps: int, batch: int) -> dict:
    """Images/s over ``steps`` steps (after one warm-up epoch) and the syncs of one epoch."""
    torch.manual_seed(0)
    model, layouts = CifarAlexNet(), []
    model.register_forward_pre_hook(lambda m, a: layouts.append(
        "channels_last" if a[0].is_contiguous(memory_format=torch.channels_last)
        and not a[0].is_contiguous() else "nchw"))
    trainer = Trainer(model, TrainConfig(batch_size=batch, amp=amp, progress=False), device)
    data = Synthetic(steps, batch, device)
    trainer.train_epoch(data, 0)                                   # warm-up (cuDNN, kernels)
    syncs = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.set_sync_debug_mode("warn")
        start = time.perf_counter()
        try:
            metrics = trainer.train_epoch(data, 1)
        finally:
            if device.type == "cuda":
                torch.cuda.set_sync_debug_mode("default")
                torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    if device.type == "cuda":
        syncs = sum("synchroniz" in str(w.message) for w in caught)
    return {"amp": amp, "images_per_s": steps * batch / seconds, "steps": steps, "batch": batch,
            "syncs_in_epoch": syncs, "layout": sorted(set(layouts)),
            "train_loss": metrics["train_loss"]}


def resume_into_fp16(device, batch: int) -> dict:
    """A run without AMP, then --resume with fp16 (CUDA only): a fresh scaler, recorded."""
    with tempfile.TemporaryDirectory() as folder:
        common = dict(batch_size=batch, progress=False, checkpoint_dir=folder, schedule="step")
        Trainer(CifarAlexNet(), TrainConfig(epochs=1, **common), device).fit(
            Synthetic(2, batch, device))
        resumed = Trainer(CifarAlexNet(), TrainConfig(epochs=2, amp="fp16", **common), device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            history = resumed.fit(Synthetic(2, batch, device), resume=True)
        return {"epochs": len(history), "config_changes": resumed.config_changes,
                "scale": resumed.scaler.get_scale()}


def fit_head(device) -> dict:
    from alexnet.dropout import fit_head as fit

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 64, generator=g), torch.randint(0, 10, (256,), generator=g)
    rows = fit(x, y, x, y, epochs=2, hidden=64, device=device)
    return {"epochs": len(rows), "last": rows[-1]}


def lrn_against_float64(device) -> dict:
    """The LRN the dispatcher picks for ``device`` at conv1's size, each dtype, vs float64."""
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(8, 96, 55, 55, generator=g, dtype=torch.float64) * 300).to(device)
    a = a.contiguous(memory_format=torch.channels_last)
    expected = local_response_norm_reference(a, groups=2)
    errors = {}
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        got = local_response_norm(a.to(dtype), groups=2).double()
        errors[str(dtype)] = ((got - expected).norm() / expected.norm()).item()
    return {"relative_error": errors}


def two_tower_tf32(device) -> dict:
    """Chapter 7's check on ``device`` (both towers there), TF32 on around it and off inside."""
    small = {} if device.type == "cuda" else dict(channels=(8, 16, 24, 24, 16), hidden=32)
    torch.manual_seed(1)
    grouped = AlexNet(1000, groups=2, init="pytorch", **small).eval()
    towers = TwoTowerAlexNet.from_grouped(grouped, (device, device)).eval()
    images = torch.randn(4, 3, 224, 224) * 60
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with torch.no_grad():
            tf32 = (grouped.to(device)(images.to(device)) - towers(images.to(device))).abs().max()
        difference, size = logits_difference(grouped, towers, images)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    return {"tf32_on_difference": tf32.item(), "exact_difference": difference, "largest": size,
            "within_1e-5": difference <= 1e-5 * size}


def check(results: dict, name: str, work) -> None:
    start = time.perf_counter()
    try:
        results[name] = {"ok": True, **work()}
    except Exception as e:  # noqa: BLE001 - each check reports its own failure
        results[name] = {"ok": False, "error": f"{type(e).__name__}: {e}",
                         "traceback": traceback.format_exc()[-2000:]}
    results[name]["seconds"] = round(time.perf_counter() - start, 2)
    print(f"{name}: {'ok' if results[name]['ok'] else results[name]['error']} "
          f"({results[name]['seconds']} s)", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=None, help="default 30 on CUDA, 2 on a CPU")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    steps, batch = args.steps or (30 if cuda else 2), 128 if cuda else 16
    results = {"amp_support": list(amp_support(device)), "machine": machine(device)}
    for amp in (None, *amp_support(device)):
        check(results, f"train_{amp or 'fp32'}", lambda: train_mode(amp, device, steps, batch))
    if cuda:
        check(results, "resume_into_fp16", lambda: resume_into_fp16(device, batch))
    check(results, "fit_head", lambda: fit_head(device))
    check(results, "lrn_against_float64", lambda: lrn_against_float64(device))
    check(results, "two_tower_tf32", lambda: two_tower_tf32(device))
    results["provenance"] = provenance(device)
    write_json(results, args.out)
    failed = [k for k, v in results.items() if isinstance(v, dict) and v.get("ok") is False]
    print(f"failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

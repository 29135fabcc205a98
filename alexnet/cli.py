"""The command line: ``python -m alexnet`` (or the ``alexnet`` console script).

::

    alexnet train --data cifar10 --epochs 30 --checkpoint-dir runs/c10
    alexnet train --data /data/imagenet --epochs 90 --device cuda --amp bf16 --checkpoint-dir runs/in
    alexnet train ... --resume                    # continue exactly where the last epoch ended
    alexnet evaluate --checkpoint runs/in/last.pt --data /data/imagenet --ten-crop
    alexnet pack /data/imagenet/train train256.pt # §2 preprocessing once, stored as uint8
    alexnet bench                                 # training speed vs torchvision, LRN vs its floor
    alexnet predict cat.jpg --weights cifar10     # top-5 classes from shipped weights
    torchrun --nproc_per_node 8 -m alexnet train ...   # data parallel on 8 GPUs
    torchrun --nproc_per_node 4 -m alexnet train --arch two-tower ...  # 4 x (2 GPUs, §3.2)

Bad input ends with one line on stderr naming the cause and the fix, and exit status 1 (2 for
malformed command-line values, as argparse does); warnings (unreadable images that were skipped)
are one line each too. So do faults of the machine: a full disk, a failed download, a data-loading
worker killed by the out-of-memory killer. Ctrl-C ends with one line and status 130, SIGTERM with
one line and status 143; either one during a checkpoint write leaves the previous checkpoint whole
and removes the temporary file.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import signal
import sys
import threading
import warnings
from contextlib import ExitStack, contextmanager

import torch

from .activations import ACTIVATIONS
from .distributed import distributed, on_rank_zero
from .errors import AlexNetError
from .runtime import (check_amp, default_workers, nonnegative_float, nonnegative_int,
                      positive_float, positive_int, probability, resolve_device)
from .recipe import MAX_BATCH_SIZE, MAX_SEED, SCHEDULES, TrainConfig

__all__ = ["main", "build_parser", "Parser", "distributed", "local_devices", "make_model",
           "positive_int", "resolve_device"]

ARCHS = ("alexnet", "two-tower", "cifar", "four-layer")
#: The recipe's defaults come from TrainConfig, so the command line and the Python API agree.
RECIPE = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
ARCH_CLASSES = {"alexnet": "AlexNet", "two-tower": "TwoTowerAlexNet", "cifar": "CifarAlexNet",
                "four-layer": "FourLayerCNN"}


def seed_number(text: str) -> int:
    """A seed: an integer PyTorch can take, 0 .. 2**64 - 1."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**64 - 1], got {text!r}")
    return value


def batch_number(text: str) -> int:
    """A batch size: a positive integer no larger than what PyTorch can index (2**63 - 1)."""
    value = positive_int(text)
    if value > MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"must be at most 2**63 - 1, got {value}")
    return value


def lr_factor(text: str) -> float:
    """What a drop of the learning rate multiplies it by: 0 < factor < 1."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), got {text!r}")
    return value


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (the paper's ideas, each switchable for ablations)")
    g.add_argument("--arch", choices=ARCHS, help="network (default: alexnet for image folders, "
                   "cifar for cifar10)")
    g.add_argument("--no-lrn", dest="lrn", action="store_false", help="drop LRN (§3.3)")
    g.add_argument("--no-overlap", dest="overlap_pooling", action="store_false",
                   help="2/2 pooling instead of overlapping 3/2 (§3.4)")
    g.add_argument("--dropout", type=probability, default=0.5,
                   help="dropout rate in fc6, fc7 (§4.2)")
    g.add_argument("--dropout-style", choices=("paper", "inverted"), default="paper",
                   help="paper: x(1-p) at test time (§4.2); inverted: PyTorch's nn.Dropout")
    g.add_argument("--activation", choices=tuple(ACTIVATIONS), default="relu", help="§3.1")
    g.add_argument("--groups", type=int, choices=(1, 2), default=2,
                   help="2: the two GPUs' restricted connectivity (§3.2); 1: none")
    g.add_argument("--init", choices=("paper", "pytorch"), default="paper", help="§5 or PyTorch's")


class Parser(argparse.ArgumentParser):
    """argparse, but a bad value gets one line (cause, and where to look), not the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="alexnet", epilog=__doc__.split("::")[1].split("Bad input")[0],
                    description="AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012), rebuilt.",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=Parser)

    t = sub.add_parser("train", help="train a network with the recipe of §5")
    t.add_argument("--data", required=True, help="'cifar10' or a folder with train/ and val/ "
                   "(or test/) subfolders of class folders")
    t.add_argument("--epochs", type=positive_int, default=RECIPE["epochs"])
    t.add_argument("--batch-size", type=batch_number, default=RECIPE["batch_size"],
                   help="the global batch (split over the processes under torchrun)")
    t.add_argument("--lr", type=positive_float, default=RECIPE["lr"], help="initial learning rate (a new "
                   "value on --resume scales the current rate)")
    t.add_argument("--weight-decay", type=nonnegative_float, default=RECIPE["weight_decay"],
                   help="on the weights, not the biases (§5)")
    t.add_argument("--schedule", choices=SCHEDULES, default=RECIPE["schedule"],
                   help="plateau: divide the rate when the validation error stops improving (§5); "
                   "step: divide it after each of --milestones epochs (reads no data)")
    t.add_argument("--patience", type=nonnegative_int, default=RECIPE["patience"],
                   help="plateau: epochs without improvement tolerated before the rate is divided")
    t.add_argument("--milestones", type=positive_int, nargs="+", default=[], metavar="EPOCH",
                   help="step: epochs after which the rate is divided")
    t.add_argument("--lr-factor", type=lr_factor, default=RECIPE["lr_factor"],
                   help="what each drop multiplies the rate by (0.1: the paper's division by 10)")
    t.add_argument("--checkpoint-dir", help="folder for last.pt (written atomically every epoch, "
                   "locked while a run uses it)")
    t.add_argument("--resume", action="store_true", help="continue from CHECKPOINT_DIR/last.pt")
    t.add_argument("--seed", type=seed_number, default=RECIPE["seed"], help="0 .. 2**64 - 1")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    t.add_argument("--devices", nargs=2, metavar="DEV", help="the two devices of --arch two-tower "
                   "(under torchrun process r takes GPUs 2r and 2r+1 of its machine)")
    t.add_argument("--amp", choices=("bf16", "fp16"),
                   help="autocast precision: bf16 (GPUs of compute capability 8.0+, e.g. A100, "
                   "H100; CPUs with bf16 instructions) or fp16 with a gradient scaler (any CUDA "
                   "GPU, e.g. Colab's T4)")
    t.add_argument("--workers", type=nonnegative_int, default=default_workers(),
                   help="data-loading processes for image folders (default: one per usable core)")
    t.add_argument("--train-subset", type=positive_int, help="train on N images only, spread "
                   "evenly over the training set")
    t.add_argument("--val-images", type=nonnegative_int, help="cifar10: training images held out "
                   "for validation, which every decision reads (default a tenth: 5,000; 0: none)")
    t.add_argument("--val-seed", type=seed_number, default=0, help="cifar10: the seed that "
                   "chooses the held-out images")
    t.add_argument("--early-stopping", type=positive_int, metavar="EPOCHS", help="stop when the "
                   "validation error has not improved for EPOCHS epochs")
    t.add_argument("--no-augment", dest="augment", action="store_false",
                   help="no random crops, flips or PCA lighting (§4.1)")
    t.add_argument("--no-progress", dest="progress", action="store_false")
    _add_model_options(t)

    e = sub.add_parser("evaluate", help="top-1/top-5 error of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", required=True, help="'cifar10' or a folder with val/ (or test/)")
    e.add_argument("--ten-crop", action="store_true", help="average 10 patches per image (§4.1)")
    e.add_argument("--batch-size", type=batch_number, default=RECIPE["batch_size"])
    e.add_argument("--device", default="auto")
    e.add_argument("--workers", type=nonnegative_int, default=default_workers(),
                   help="data-loading processes for image folders (default: one per usable core)")
    e.add_argument("--no-progress", dest="progress", action="store_false")

    k = sub.add_parser("pack", help="resize a folder of images to 256x256 uint8 once (§2)")
    k.add_argument("folder", help="a folder of class folders")
    k.add_argument("out", help="output file (.pt)")
    k.add_argument("--size", type=positive_int, default=256)
    k.add_argument("--force", action="store_true", help="replace OUT if it exists")

    for name, text in PLUGINS.items():
        _plugin(name).add_arguments(sub.add_parser(name, help=text))
    return parser


PLUGINS = {  # subcommands that live in their own module: name -> help
    "bench": "training speed vs torchvision; LRN time vs its memory floor",
    "reproduce": "re-run the paper's claims and write results with provenance",
    "predict": "top-5 classes of images from trained weights (--weights cifar10 or bvlc)",
    "export-weights": "package a trained checkpoint as weights (safetensors + model card)",
}
PLUGIN_MODULES = {"export-weights": "export"}   # subcommands whose module has another name


def _plugin(name: str):
    import importlib

    return importlib.import_module(f".{PLUGIN_MODULES.get(name, name)}", __package__)


def local_devices(args) -> list[torch.device]:
    """This process's device, or one device per tower for ``--arch two-tower`` (§3.2).

    Under torchrun the process with LOCAL_RANK ``r`` takes GPU ``r`` of its machine, or GPUs ``2r``
    and ``2r+1`` for the two towers: data parallelism between processes, the paper's model
    parallelism within each.
    """
    towers, world = (2 if args.arch == "two-tower" else 1), int(os.environ.get("WORLD_SIZE", "1"))
    if args.devices and (towers == 1 or world > 1):
        raise AlexNetError("--devices names the two devices of --arch two-tower in one process "
                           "(under torchrun process r takes GPUs 2r and 2r+1): use --device")
    if args.devices:
        return [resolve_device(d) for d in args.devices]
    device = resolve_device(args.device)
    if world == 1 or device.type != "cuda":
        return [device] * towers
    local, count = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if towers * (local + 1) > count:
        raise AlexNetError(f"process {local} of this machine needs GPU {towers * local + towers - 1} "
                           f"but the machine has {count}: start at most {count // towers} "
                           "processes per machine (--nproc_per_node)")
    return [torch.device("cuda", towers * local + t) for t in range(towers)]


def _one_line(error: AlexNetError) -> str:
    """The message; a DataLoader worker's error arrives wrapped in its traceback: keep its last line."""
    text = str(error).strip()
    if "\n" not in text:
        return text
    return text.splitlines()[-1].split("AlexNetError: ", 1)[-1]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is (a checkpoint write included), so that cleanup runs
    as for Ctrl-C: the temporary file of an unfinished write is removed."""


@contextmanager
def _sigterm_raises():
    """While the command runs, SIGTERM raises :class:`Terminated` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings(), _sigterm_raises():
        warnings.showwarning = lambda message, *_, **__: print(
            f"alexnet {args.command}: warning: {message}", file=sys.stderr)
        return _run(args)


AFTER_INTERRUPT = {"train": "; the last checkpoint written is intact",
                   "pack": "; no partial output file is left"}


def _run(args) -> int:
    from .data import worker_killed

    def fail(text: str, code: int = 1) -> int:
        print(f"alexnet {args.command}: {text}", file=sys.stderr)
        return code

    try:
        handler = {"train": _train, "evaluate": _evaluate, "pack": _pack}.get(args.command)
        if handler is None:
            return _plugin(args.command).run(args)
        return handler(args)
    except AlexNetError as e:
        return fail(f"error: {_one_line(e)}")
    except torch.OutOfMemoryError:
        return fail("error: out of GPU memory: lower --batch-size (with torchrun it is the global "
                    "batch, split over the processes)")
    except Terminated:
        return fail(f"terminated (SIGTERM){AFTER_INTERRUPT.get(args.command, '')}", 143)
    except KeyboardInterrupt:
        return fail(f"interrupted{AFTER_INTERRUPT.get(args.command, '')}", 130)
    except OSError as e:
        return fail(f"error: {_os_error(e)}")
    except RuntimeError as e:
        line = worker_killed(e) or _group_failed(e)
        if line is None:
            raise
        return fail(f"error: {line}")


def _os_error(e: OSError) -> str:
    """A file-system error in one line: what failed, on which file, and what to do."""
    where = f" ({e.filename})" if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device{where}: free some space, or write elsewhere"
    return f"{e.strerror or e}{where}: check the path, its permissions and the disk"


def _group_failed(e: RuntimeError) -> AlexNetError | None:
    """A collective that failed because another process of the run stopped (gloo, NCCL)."""
    import torch.distributed as dist

    if not (isinstance(e, dist.DistError) or "gloo" in str(e).lower() or "nccl" in str(e).lower()):
        return None
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return AlexNetError(f"the process group failed ({first[:200]}): another process of this run "
                        "stopped; its own line says why")


def model_config(args, image_size: int, num_classes: int, devices: list[torch.device]) -> dict:
    """The ``config`` of the network that ``--arch`` and the model options ask for, checked against
    the data; ``devices`` are those of :func:`local_devices` (the towers' devices for two-tower)."""
    arch = args.arch or ("cifar" if image_size == 32 else "alexnet")
    size = 32 if arch in ("cifar", "four-layer") else 224
    if size != image_size:
        raise AlexNetError(f"--arch {arch} takes {size}x{size} images but --data {args.data} gives "
                           f"{image_size}x{image_size}: use --arch " +
                           ("cifar or four-layer" if image_size == 32 else "alexnet or two-tower"))
    config = dict(arch=ARCH_CLASSES[arch], num_classes=num_classes, activation=args.activation,
                  lrn=args.lrn)
    if arch == "four-layer":
        return config
    config.update(overlap_pooling=args.overlap_pooling, dropout=args.dropout,
                  dropout_style=args.dropout_style, init=args.init)
    if arch == "two-tower":
        return dict(config, devices=[str(d) for d in devices])
    return dict(config, groups=args.groups)


def make_model(args, image_size: int, num_classes: int, devices: list[torch.device]
               ) -> torch.nn.Module:
    """The network of :func:`model_config`, built as a checkpoint's model is rebuilt."""
    from .architectures import build_model

    return build_model(model_config(args, image_size, num_classes, devices))


def train_config(args) -> TrainConfig:
    """The run's :class:`~alexnet.train.TrainConfig`: the one record of its recipe, its batch
    size (which the loaders are built from) and its seed."""
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       weight_decay=args.weight_decay, schedule=args.schedule,
                       patience=args.patience, milestones=tuple(args.milestones),
                       lr_factor=args.lr_factor, amp=args.amp, seed=args.seed,
                       progress=args.progress, checkpoint_dir=args.checkpoint_dir,
                       early_stopping=args.early_stopping)


def _train(args) -> int:
    from .checkpoint import claim_folder
    from .data import build_loaders, build_test_loader
    from .runtime import keep_freed_memory
    from .train import Trainer, seed_everything

    devices = local_devices(args)
    device = devices[0]                           # the loaders, the model and the trainer use it
    config = train_config(args)
    check_amp(config.amp, device)                 # before the data loads (the Trainer checks too)
    if device.type == "cpu":
        keep_freed_memory()
    with distributed(device) as (rank, world), ExitStack() as held:
        if config.batch_size % world:
            raise AlexNetError(f"--batch-size {config.batch_size} (the global batch) must divide "
                               f"evenly over {world} processes")
        # before the data loads: a folder in use, unwritable, or holding another run fails now
        held.enter_context(claim_folder(config.checkpoint_dir, new_run=not args.resume))
        common = dict(device=device, rank=rank, world_size=world, workers=args.workers)
        train_loader, val_loader, info = build_loaders(
            args.data, config.batch_size // world, seed=config.seed, augment=args.augment,
            train_subset=args.train_subset, val_images=args.val_images, val_seed=args.val_seed,
            **common)
        seed_everything(config.seed)              # the same --seed, the same initial weights
        model = make_model(args, info.image_size, info.num_classes, devices)
        trainer = Trainer(model, config, device)
        history = trainer.fit(train_loader, val_loader, resume=args.resume)
        test_loader = build_test_loader(args.data, config.batch_size // world, **common)
        if test_loader is not None and history:    # read once, after the last epoch
            trainer.test(test_loader)
        if rank == 0 and history:
            print(_summary(history[-1]))
    return 0


def _summary(last: dict) -> str:
    """The last epoch's line: training loss, then validation and test errors where measured."""
    parts = [f"epoch {last['epoch']}: train loss {last['train_loss']:.4f}"]
    for split, words in (("val", "val"), ("test", "test")):
        if f"{split}_top1" in last:
            parts.append(f"{words} top-1 error {last[f'{split}_top1']:.2%}, top-5 error "
                         f"{last[f'{split}_top5']:.2%}")
    return ", ".join(parts)


def _evaluate(args) -> int:
    from .architectures import build_model
    from .checkpoint import check_entries, load_checkpoint, load_weights
    from .data import build_loaders, build_test_loader
    from .resume import class_difference
    from .train import Trainer

    device = resolve_device(args.device)
    state = check_entries(load_checkpoint(args.checkpoint), args.checkpoint,
                          needed=("model", "model_config"))
    config = dict(state["model_config"])
    if "devices" in config:                           # a two-tower model: both towers on --device
        config["devices"] = [str(device)] * 2
    model = build_model(config)
    load_weights(model, state["model"], source=f"checkpoint {args.checkpoint}")
    options = dict(device=device, workers=args.workers, ten_crop=args.ten_crop)
    _, val_loader, info = build_loaders(args.data, args.batch_size, train=False, **options)
    loader = build_test_loader(args.data, args.batch_size, **options) or val_loader
    if info.num_classes != config.get("num_classes"):
        raise AlexNetError(f"the checkpoint has {config.get('num_classes')} classes but {args.data} "
                           f"has {info.num_classes}: evaluate on the data it was trained on")
    saved = state.get("classes")
    if saved is not None and list(saved) != list(info.classes):
        raise AlexNetError(f"the checkpoint was trained on other classes than {args.data}'s "
                           f"({class_difference(list(saved), list(info.classes))}): evaluate on "
                           "the data it was trained on")
    if info.image_size != model.image_size:
        size, given = model.image_size, info.image_size
        raise AlexNetError(f"the checkpoint's {config['arch']} takes {size}x{size} images but "
                           f"{args.data} gives {given}x{given}: evaluate on the data it was trained on")
    trainer = Trainer(model, TrainConfig(progress=args.progress), device)
    result = trainer.evaluate(loader, ten_crop=args.ten_crop)
    crops = "ten-crop" if args.ten_crop else "centre crop"
    print(f"{args.checkpoint} on {args.data} ({crops}): top-1 error {result['val_top1']:.2%}, "
          f"top-5 error {result['val_top5']:.2%}, loss {result['val_loss']:.4f}")
    return 0


def _pack(args) -> int:
    from .data import pack_image_folder

    pack_image_folder(args.folder, args.out, size=args.size, overwrite=args.force)
    return 0

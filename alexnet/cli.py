"""The command line: ``python -m alexnet`` (or the ``alexnet`` console script).

::

    alexnet train --data cifar10 --epochs 30 --checkpoint-dir runs/c10
    alexnet train --data /data/imagenet --epochs 90 --device cuda --amp bf16 --checkpoint-dir runs/in
    alexnet train ... --resume                    # continue exactly where the last epoch ended
    alexnet evaluate --checkpoint runs/in/last.pt --data /data/imagenet --ten-crop
    alexnet pack /data/imagenet/train train256.pt # §2 preprocessing once, stored as uint8
    alexnet bench                                 # training speed vs torchvision, LRN vs its floor
    torchrun --nproc_per_node 8 -m alexnet train ...   # data parallel on 8 GPUs
    torchrun --nproc_per_node 4 -m alexnet train --arch two-tower ...  # 4 x (2 GPUs, §3.2)

Bad input ends with one line on stderr naming the cause and the fix, and exit status 1 (2 for
malformed command-line values, as argparse does); warnings (unreadable images that were skipped)
are one line each too.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch

from .errors import AlexNetError
from .runtime import (default_workers, nonnegative_float, nonnegative_int, positive_float,
                      positive_int, probability, resolve_device)

ARCHS = ("alexnet", "two-tower", "cifar", "four-layer")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (the paper's ideas, each switchable for ablations)")
    g.add_argument("--arch", choices=ARCHS, help="network (default: alexnet for image folders, "
                   "cifar for cifar10)")
    g.add_argument("--no-lrn", dest="lrn", action="store_false", help="drop LRN (§3.3)")
    g.add_argument("--no-overlap", dest="overlap_pooling", action="store_false",
                   help="2/2 pooling instead of overlapping 3/2 (§3.4)")
    g.add_argument("--dropout", type=probability, default=0.5,
                   help="dropout rate in fc6, fc7 (§4.2)")
    g.add_argument("--activation", choices=("relu", "tanh"), default="relu", help="§3.1")
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
    t.add_argument("--epochs", type=positive_int, default=90)
    t.add_argument("--batch-size", type=positive_int, default=128)
    t.add_argument("--lr", type=positive_float, default=0.01, help="initial learning rate")
    t.add_argument("--weight-decay", type=nonnegative_float, default=5e-4)
    t.add_argument("--checkpoint-dir", help="folder for last.pt (written atomically every epoch)")
    t.add_argument("--resume", action="store_true", help="continue from CHECKPOINT_DIR/last.pt")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    t.add_argument("--devices", nargs=2, metavar="DEV", help="the two devices of --arch two-tower "
                   "(under torchrun process r takes GPUs 2r and 2r+1 of its machine)")
    t.add_argument("--amp", choices=("bf16", "fp16"), help="mixed precision on CUDA")
    t.add_argument("--workers", type=nonnegative_int, default=default_workers(),
                   help="data-loading processes for image folders (default: one per usable core)")
    t.add_argument("--train-subset", type=positive_int, help="train on the first N images only")
    t.add_argument("--no-augment", dest="augment", action="store_false",
                   help="no random crops, flips or PCA lighting (§4.1)")
    t.add_argument("--no-progress", dest="progress", action="store_false")
    _add_model_options(t)

    e = sub.add_parser("evaluate", help="top-1/top-5 error of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", required=True, help="'cifar10' or a folder with val/ (or test/)")
    e.add_argument("--ten-crop", action="store_true", help="average 10 patches per image (§4.1)")
    e.add_argument("--batch-size", type=positive_int, default=128)
    e.add_argument("--device", default="auto")
    e.add_argument("--workers", type=nonnegative_int, default=default_workers(),
                   help="data-loading processes for image folders (default: one per usable core)")
    e.add_argument("--no-progress", dest="progress", action="store_false")

    k = sub.add_parser("pack", help="resize a folder of images to 256x256 uint8 once (§2)")
    k.add_argument("folder", help="a folder of class folders")
    k.add_argument("out", help="output file (.pt)")
    k.add_argument("--size", type=positive_int, default=256)

    for name, text in PLUGINS.items():
        _plugin(name).add_arguments(sub.add_parser(name, help=text))
    return parser


PLUGINS = {  # subcommands that live in their own module: name -> help
    "bench": "training speed vs torchvision; LRN time vs its memory floor",
    "reproduce": "re-run the paper's claims and write results with provenance",
}


def _plugin(name: str):
    import importlib

    return importlib.import_module(f".{name}", __package__)


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


@contextmanager
def distributed(device: torch.device | None = None):
    """Join the process group when started by torchrun (WORLD_SIZE > 1): NCCL for a CUDA
    ``device``, gloo for the CPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield 0, 1
        return
    import torch.distributed as dist

    cuda = device.type == "cuda" if device is not None else torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(device if device is not None else int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield dist.get_rank(), dist.get_world_size()
    finally:
        dist.destroy_process_group()


def _one_line(error: AlexNetError) -> str:
    """The message; a DataLoader worker's error arrives wrapped in its traceback: keep its last line."""
    text = str(error).strip()
    if "\n" not in text:
        return text
    return text.splitlines()[-1].split("AlexNetError: ", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *_, **__: print(
            f"alexnet {args.command}: warning: {message}", file=sys.stderr)
        return _run(args)


def _run(args) -> int:
    try:
        handler = {"train": _train, "evaluate": _evaluate, "pack": _pack}.get(args.command)
        if handler is None:
            return _plugin(args.command).run(args)
        return handler(args)
    except AlexNetError as e:
        print(f"alexnet {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except torch.OutOfMemoryError:
        print(f"alexnet {args.command}: error: out of GPU memory: lower --batch-size (with torchrun "
              "it is the global batch, split over the processes)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"alexnet {args.command}: interrupted; the last checkpoint written is intact",
              file=sys.stderr)
        return 130


def make_model(args, image_size: int, num_classes: int, devices: list[torch.device]
               ) -> torch.nn.Module:
    """The network that ``--arch`` and the model options ask for, checked against the data;
    ``devices`` are those of :func:`local_devices` (the towers' devices for two-tower)."""
    from .model import AlexNet, CifarAlexNet, FourLayerCNN
    from .two_tower import TwoTowerAlexNet

    arch = args.arch or ("cifar" if image_size == 32 else "alexnet")
    size = 32 if arch in ("cifar", "four-layer") else 224
    if size != image_size:
        raise AlexNetError(f"--arch {arch} takes {size}x{size} images but --data {args.data} gives "
                           f"{image_size}x{image_size}: use --arch " +
                           ("cifar or four-layer" if image_size == 32 else "alexnet or two-tower"))
    if arch == "four-layer":
        return FourLayerCNN(num_classes, activation=args.activation, lrn=args.lrn)
    options = dict(lrn=args.lrn, overlap_pooling=args.overlap_pooling, dropout=args.dropout,
                   activation=args.activation, init=args.init)
    if arch == "two-tower":
        return TwoTowerAlexNet(num_classes, devices, **options)
    cls = CifarAlexNet if arch == "cifar" else AlexNet
    return cls(num_classes, groups=args.groups, **options)


def _check_checkpoint_dir(args) -> None:
    """Fail now, not after the first epoch: a folder that cannot be written, or a new run that
    would overwrite the checkpoint of another (days of training lost to a forgotten --resume)."""
    from .checkpoint import check_writable

    check_writable(args.checkpoint_dir)
    last = Path(args.checkpoint_dir) / "last.pt"
    if last.exists() and not args.resume:
        raise AlexNetError(f"{last} already exists: pass --resume to continue that run, or choose "
                           "another --checkpoint-dir")


def _train(args) -> int:
    from .data import build_loaders
    from .train import TrainConfig, Trainer, seed_everything

    devices = local_devices(args)
    device = devices[0]
    with distributed(device) as (rank, world):
        if args.batch_size % world:
            raise AlexNetError(f"--batch-size {args.batch_size} (the global batch) must divide "
                               f"evenly over {world} processes")
        if args.checkpoint_dir and rank == 0:
            _check_checkpoint_dir(args)
        train_loader, val_loader, info = build_loaders(
            args.data, args.batch_size // world, device=device, seed=args.seed, augment=args.augment,
            rank=rank, world_size=world, workers=args.workers, train_subset=args.train_subset)
        seed_everything(args.seed)                # the same --seed, the same initial weights
        model = make_model(args, info.image_size, info.num_classes, devices)
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             weight_decay=args.weight_decay, amp=args.amp, seed=args.seed,
                             progress=args.progress, checkpoint_dir=args.checkpoint_dir)
        trainer = Trainer(model, config, device)
        history = trainer.fit(train_loader, val_loader, resume=args.resume)
        if rank == 0 and history:
            last = history[-1]
            print(f"epoch {last['epoch']}: train loss {last['train_loss']:.4f}, val top-1 error "
                  f"{last['val_top1']:.2%}, top-5 error {last['val_top5']:.2%}")
    return 0


def _evaluate(args) -> int:
    from .checkpoint import load_checkpoint, load_weights
    from .data import build_loaders
    from .model import build_model
    from .train import TrainConfig, Trainer

    device = resolve_device(args.device)
    state = load_checkpoint(args.checkpoint)
    config = dict(state.get("model_config") or {})
    if "devices" in config:                           # a two-tower model: both towers on --device
        config["devices"] = [str(device)] * 2
    model = build_model(config)
    load_weights(model, state["model"], source=f"checkpoint {args.checkpoint}")
    _, val_loader, info = build_loaders(args.data, args.batch_size, device=device,
                                        workers=args.workers, ten_crop=args.ten_crop, train=False)
    if info.num_classes != config.get("num_classes"):
        raise AlexNetError(f"the checkpoint has {config.get('num_classes')} classes but {args.data} "
                           f"has {info.num_classes}: evaluate on the data it was trained on")
    if info.image_size != model.image_size:
        size, given = model.image_size, info.image_size
        raise AlexNetError(f"the checkpoint's {config['arch']} takes {size}x{size} images but "
                           f"{args.data} gives {given}x{given}: evaluate on the data it was trained on")
    trainer = Trainer(model, TrainConfig(progress=args.progress), device)
    result = trainer.evaluate(val_loader, ten_crop=args.ten_crop)
    crops = "ten-crop" if args.ten_crop else "centre crop"
    print(f"{args.checkpoint} on {args.data} ({crops}): top-1 error {result['val_top1']:.2%}, "
          f"top-5 error {result['val_top5']:.2%}, loss {result['val_loss']:.4f}")
    return 0


def _pack(args) -> int:
    from .data import pack_image_folder

    pack_image_folder(args.folder, args.out, size=args.size)
    return 0

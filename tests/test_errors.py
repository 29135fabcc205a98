"""Bad input gets one line naming the cause and the fix, never a stack trace from inside PyTorch.

Each test feeds one kind of bad input to the command line (``alexnet.cli.main``, in this process
for speed; one test runs real processes to show that no traceback appears) or to the Python API,
and asserts the exact message and the exit status: 1 for bad input, 2 for malformed command-line
values (as argparse does).
"""
import argparse
import os
import signal
import subprocess
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest
import torch
from helpers import alexnet_command, noise_image, subprocess_env, tiny_folder
from PIL import Image

import alexnet.data
import alexnet.folders
from alexnet import AlexNet, CifarAlexNet, FourLayerCNN, TwoTowerAlexNet
from alexnet.checkpoint import FORMAT, load_checkpoint, load_weights
from alexnet.cli import main
from alexnet.data import load_packed
from alexnet.errors import AlexNetError
from alexnet.train import TrainConfig, Trainer

LAYOUT = "root/<class>/<image>.jpg, one subfolder of images per class"
SMALL = dict(channels=(16, 32, 48, 48, 32), hidden=64)    # AlexNet's layout at a CPU-test width
FAST = ["--device", "cpu", "--no-progress", "--workers", "0"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``alexnet ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as e:                                   # argparse
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def fails(capsys, *argv: str, code: int = 1) -> str:
    """Run ``alexnet ARGV``, check the exit status and that stderr is one line; return that line."""
    status, out, err = run(capsys, *argv)
    assert status == code, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err[:-1]


def make_checkpoint(folder, model=None, classes=None) -> str:
    """A real checkpoint (``last.pt``, epoch 0) of ``model``, a FourLayerCNN by default, trained
    (as far as it says) on ``classes``."""
    trainer = Trainer(model or FourLayerCNN(), TrainConfig(checkpoint_dir=str(folder), progress=False))
    trainer.classes = classes
    trainer.save()
    return str(trainer.checkpoint_path)


# ---------------------------------------------------------------- images the model cannot take

@pytest.mark.parametrize("model", [AlexNet(10, **SMALL), TwoTowerAlexNet(10, ("cpu", "cpu"), **SMALL),
                                   CifarAlexNet()], ids=["alexnet", "two-tower", "cifar"])
def test_an_image_of_the_wrong_size_or_channel_count(model):
    size = model.image_size
    name = type(model).__name__
    for shape in [(2, 3, size + 3, size), (2, 1, size, size), (2, 4, size, size), (3, size, size)]:
        with pytest.raises(AlexNetError) as error:
            model(torch.zeros(shape))
        assert str(error.value) == (
            f"{name} expects a batch of RGB images of shape (N, 3, {size}, {size}), got {shape}: "
            f"crop or resize the images to {size}x{size} (alexnet.transforms does this)")


def test_an_architecture_that_does_not_fit_the_data(cifar_env, tmp_path, capsys):
    folder = tiny_folder(tmp_path / "images")
    assert fails(capsys, "train", "--data", str(folder), "--arch", "cifar", *FAST) == (
        f"alexnet train: error: --arch cifar takes 32x32 images but --data {folder} gives "
        "224x224: use --arch alexnet or two-tower")
    assert fails(capsys, "train", "--data", "cifar10", "--arch", "alexnet", *FAST) == (
        "alexnet train: error: --arch alexnet takes 224x224 images but --data cifar10 gives 32x32: "
        "use --arch cifar or four-layer")


# ---------------------------------------------------------------- data folders

def test_a_data_path_that_does_not_exist_is_empty_or_has_no_class_folders(tmp_path, capsys):
    missing, empty, flat = tmp_path / "missing", tmp_path / "empty", tmp_path / "flat"
    empty.mkdir()
    for split in ("train", "val"):
        (flat / split).mkdir(parents=True)
        noise_image(40, 40).save(flat / split / "loose.png")
    for command in (["train"], ["evaluate", "--checkpoint", make_checkpoint(tmp_path / "run")]):
        prefix = f"alexnet {command[0]}: error:"
        assert fails(capsys, *command, "--data", str(missing), *FAST) == (
            f"{prefix} data '{missing}' is neither 'cifar10' nor a folder: pass 'cifar10' or a "
            "folder with train/ and val/ (or test/) subfolders of class folders")
        assert fails(capsys, *command, "--data", str(empty), *FAST) == (
            f"{prefix} data folder {empty} has no val/ (or test/) subfolder (found: nothing): lay "
            "it out as train/<class>/<image> and val/<class>/<image>")
        assert fails(capsys, *command, "--data", str(flat), *FAST) == (
            f"{prefix} image folder {flat / 'val'} has no class folders: lay it out as {LAYOUT}")


def test_a_folder_of_class_folders_without_train_and_val(tmp_path, capsys):
    tiny_folder(tmp_path / "images", val=False)
    train = tmp_path / "images" / "train"                    # the user passed train/ itself
    assert fails(capsys, "train", "--data", str(train), *FAST) == (
        f"alexnet train: error: data folder {train} has no val/ (or test/) subfolder (found: cat, "
        "dog): lay it out as train/<class>/<image> and val/<class>/<image>")


def test_corrupt_grayscale_and_cmyk_images(tmp_path, capsys):
    """A tiny AlexNet run on a folder with a grayscale, a palette and a CMYK image (converted to
    RGB, §2) and two unreadable files (skipped, named in one warning line): it trains."""
    root = tiny_folder(tmp_path / "images", per_class=2)
    Image.new("L", (300, 260), 90).save(root / "train" / "cat" / "gray.png")
    Image.new("RGB", (280, 256), (10, 200, 30)).convert("CMYK").save(root / "train" / "dog" / "cmyk.jpg")
    noise_image(256, 300).convert("P").save(root / "val" / "dog" / "palette.png")
    (root / "train" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a JPEG at all")
    (root / "train" / "dog" / "empty.png").write_bytes(b"")
    code, out, err = run(capsys, "train", "--data", str(root), "--arch", "alexnet",
                         "--batch-size", "6", "--epochs", "1", *FAST)
    assert code == 0, err
    assert err == (f"alexnet train: warning: skipped 2 unreadable image file(s) in {root / 'train'}: "
                   "dog/broken.jpg, dog/empty.png\n")
    assert out.startswith("epoch 1: train loss ")


def test_a_class_folder_with_no_readable_image(tmp_path, capsys):
    root = tiny_folder(tmp_path / "images")
    (root / "train" / "bird").mkdir()
    (root / "train" / "bird" / "broken.jpg").write_bytes(b"garbage")
    status, _, err = run(capsys, "train", "--data", str(root), *FAST)
    assert status == 1
    assert err == (
        f"alexnet train: warning: skipped 1 unreadable image file(s) in {root / 'train'}: "
        "bird/broken.jpg\n"
        f"alexnet train: error: image folder {root / 'train'} has class folders without readable "
        "images (bird): add images or remove those folders\n")


def test_a_truncated_jpeg_is_named_not_a_stack_trace(tmp_path, capsys):
    """A JPEG cut short passes PIL's verify(); it must still end in one line, not a traceback
    from a DataLoader in the middle of an epoch."""
    root = tiny_folder(tmp_path / "images", per_class=1)
    whole = root / "whole.jpg"
    noise_image(260, 300).save(whole)
    data = whole.read_bytes()
    whole.unlink()
    (root / "train" / "cat" / "cut.jpg").write_bytes(data[: len(data) // 2])
    status, out, err = run(capsys, "train", "--data", str(root), "--batch-size", "2",
                           "--epochs", "1", *FAST)
    assert status == 1
    assert err.startswith(f"alexnet train: error: image {root / 'train' / 'cat' / 'cut.jpg'} is "
                          "truncated or corrupt (")
    assert err.endswith("): remove or replace it (`alexnet pack` decodes every image up front)\n")
    assert err.count("\n") == 1, err


# ---------------------------------------------------------------- checkpoints

def _flip_a_byte_in_the_largest_entry(path) -> str:
    with zipfile.ZipFile(path) as archive:
        entry = max(archive.infolist(), key=lambda info: info.compress_size)
    data = bytearray(path.read_bytes())
    header = 30 + len(entry.filename.encode()) + len(entry.extra)  # local header, name, extra
    data[entry.header_offset + header + entry.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return entry.filename


def test_a_truncated_or_corrupt_checkpoint(cifar_env, tmp_path, capsys):
    good = make_checkpoint(tmp_path / "good")
    data = open(good, "rb").read()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    last = run_dir / "last.pt"
    resume = ["train", "--data", "cifar10", "--arch", "four-layer", "--checkpoint-dir", str(run_dir),
              "--resume", *FAST]
    evaluate = ["evaluate", "--checkpoint", str(last), "--data", "cifar10", *FAST]
    cut = "it cannot be read as a torch file"
    for content in [data[: len(data) // 2], data[:100], b"", b"not a checkpoint at all"]:
        last.write_bytes(content)
        for argv in (resume, evaluate):
            assert fails(capsys, *argv) == (
                f"alexnet {argv[0]}: error: checkpoint {last} is corrupt or truncated ({cut}): "
                "restore a copy, or delete it and train again")
    last.write_bytes(data)
    entry = _flip_a_byte_in_the_largest_entry(last)
    for argv in (resume, evaluate):
        assert fails(capsys, *argv) == (
            f"alexnet {argv[0]}: error: checkpoint {last} is corrupt or truncated (its entry "
            f"{entry} fails its checksum): restore a copy, or delete it and train again")


def test_files_that_are_not_checkpoints(cifar_env, tmp_path, capsys):
    evaluate = ["evaluate", "--data", "cifar10", *FAST, "--checkpoint"]
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    assert fails(capsys, *evaluate, str(other)) == (
        f"alexnet evaluate: error: {other} is not an alexnet checkpoint (no '{FORMAT}' marker): "
        "pass a file written by `alexnet train`")
    code = tmp_path / "code.pt"
    torch.save({"format": FORMAT, "payload": argparse.Namespace(x=1)}, code)
    assert fails(capsys, *evaluate, str(code)) == (
        f"alexnet evaluate: error: checkpoint {code} holds objects other than tensors and plain "
        "values, which are never loaded (they could run code): pass a file written by "
        "`alexnet train`")
    assert fails(capsys, *evaluate, str(tmp_path / "nothing.pt")) == (
        f"alexnet evaluate: error: checkpoint {tmp_path / 'nothing.pt'} does not exist: check the "
        "path, or train first")
    assert fails(capsys, *evaluate, str(tmp_path)) == (
        f"alexnet evaluate: error: checkpoint {tmp_path} is a folder: pass the file in it, e.g. "
        f"{tmp_path / 'last.pt'}")


def test_a_checkpoint_of_another_architecture_or_number_of_classes(cifar_env, tmp_path, capsys):
    five = make_checkpoint(tmp_path / "five", FourLayerCNN(5, lrn=True))
    resume = ["train", "--data", "cifar10", "--resume", *FAST,
              "--checkpoint-dir", str(tmp_path / "five")]
    assert fails(capsys, *resume, "--arch", "four-layer") == (
        f"alexnet train: error: checkpoint {five} was trained with other model options (checkpoint "
        "vs this run: num_classes 5 vs 10; shapes differ (checkpoint vs model): 12.weight (5, 1024) "
        "vs (10, 1024), 12.bias (5,) vs (10,)): resume with the same options, or use another "
        "--checkpoint-dir")
    message = fails(capsys, *resume, "--arch", "cifar")
    assert message.startswith(
        f"alexnet train: error: checkpoint {five} was trained with other model options (checkpoint "
        "vs this run: arch 'FourLayerCNN' vs 'CifarAlexNet', channels None vs [32, 64, 96, 96, 64], "
        "dropout None vs 0.5, dropout_style None vs 'paper'; missing layers: classifier.0.bias, ")
    assert "unexpected layers: 0.bias, 0.weight, 12.bias, 12.weight)" in message
    # evaluate: on data with another number of classes, or another image size
    folder = tiny_folder(tmp_path / "images")
    assert fails(capsys, "evaluate", "--checkpoint", five, "--data", "cifar10", *FAST) == (
        "alexnet evaluate: error: the checkpoint has 5 classes but cifar10 has 10: evaluate on the "
        "data it was trained on")
    two = make_checkpoint(tmp_path / "two", FourLayerCNN(2))
    assert fails(capsys, "evaluate", "--checkpoint", two, "--data", str(folder), *FAST) == (
        f"alexnet evaluate: error: the checkpoint's FourLayerCNN takes 32x32 images but {folder} "
        "gives 224x224: evaluate on the data it was trained on")


def test_weights_that_do_not_fit_name_the_layers():
    with pytest.raises(AlexNetError) as error:
        load_weights(AlexNet(10, **SMALL), AlexNet(1000, **SMALL).state_dict(), source="checkpoint x.pt")
    assert str(error.value) == (
        "the checkpoint x.pt does not fit this model (shapes differ (checkpoint vs model): "
        "classifier.6.weight (1000, 64) vs (10, 64), classifier.6.bias (1000,) vs (10,)): it was "
        "trained with another architecture or number of classes")


# ---------------------------------------------------------------- checkpoint folders

def test_a_checkpoint_folder_that_cannot_be_written_fails_before_training(tmp_path, capsys):
    """Tests run as root, whom chmod does not stop: a path under a regular file cannot be made."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "run"
    assert fails(capsys, "train", "--data", str(tmp_path / "no-data-yet"), "--checkpoint-dir",
                 str(target), *FAST) == (
        f"alexnet train: error: cannot write checkpoints to {target} (Not a directory): choose a "
        "writable --checkpoint-dir")                         # before the data is even looked at


def test_a_new_run_does_not_overwrite_another_runs_checkpoint(tmp_path, capsys):
    last = make_checkpoint(tmp_path / "run")
    before = open(last, "rb").read()
    assert fails(capsys, "train", "--data", "cifar10", "--checkpoint-dir", str(tmp_path / "run"),
                 *FAST) == (
        f"alexnet train: error: {last} already exists: pass --resume to continue that run, or "
        "choose another --checkpoint-dir")
    assert open(last, "rb").read() == before


# ---------------------------------------------------------------- command-line values

@pytest.mark.parametrize("argv,message", [
    (["--epochs", "-1"], "argument --epochs: must be a positive integer, got -1"),
    (["--epochs", "0"], "argument --epochs: must be a positive integer, got 0"),
    (["--epochs", "ten"], "argument --epochs: must be a positive integer, got 'ten'"),
    (["--batch-size", "0"], "argument --batch-size: must be a positive integer, got 0"),
    (["--lr", "0"], "argument --lr: must be a positive number, got 0.0"),
    (["--lr", "nan"], "argument --lr: must be a positive number, got nan"),
    (["--lr", "inf"], "argument --lr: must be a positive number, got inf"),
    (["--weight-decay=-1e-4"], "argument --weight-decay: must be a number >= 0, got -0.0001"),
    (["--dropout", "1.5"], "argument --dropout: must be a probability in [0, 1), got 1.5"),
    (["--workers", "-2"], "argument --workers: must be an integer >= 0, got -2"),
    (["--train-subset", "0"], "argument --train-subset: must be a positive integer, got 0"),
])
def test_nonsense_values_are_usage_errors(argv, message, capsys):
    assert fails(capsys, "train", "--data", "cifar10", *argv, code=2) == (
        f"alexnet train: error: {message} (see alexnet train --help)")


def test_other_usage_errors(capsys):
    assert fails(capsys, "train", code=2) == (
        "alexnet train: error: the following arguments are required: --data (see alexnet train "
        "--help)")
    assert fails(capsys, "evaluate", "--checkpoint", "x.pt", "--data", "cifar10", "--batch-size",
                 "-8", code=2) == ("alexnet evaluate: error: argument --batch-size: must be a "
                                   "positive integer, got -8 (see alexnet evaluate --help)")
    assert fails(capsys, "pack", "in", "out.pt", "--size", "0", code=2) == (
        "alexnet pack: error: argument --size: must be a positive integer, got 0 (see alexnet "
        "pack --help)")
    assert fails(capsys, "train", "--data", "cifar10", "--arch", "resnet", code=2).startswith(
        "alexnet train: error: argument --arch: invalid choice: ")
    assert fails(capsys, "fly", code=2).startswith("alexnet: error: argument COMMAND: invalid choice")


@pytest.mark.parametrize("argv,message", [
    (["--device", "tpu"], "unknown device 'tpu': use auto, cpu, cuda or cuda:N"),
    (["--device", "cuda:x"], "unknown device 'cuda:x': use auto, cpu, cuda or cuda:N"),
    (["--device", "mps"], "unsupported device 'mps': use auto, cpu, cuda or cuda:N"),
    (["--device", "cpu", "--devices", "cpu", "cpu"],
     "--devices names the two devices of --arch two-tower in one process (under torchrun process "
     "r takes GPUs 2r and 2r+1): use --device"),
])
def test_unknown_devices(argv, message, capsys):
    assert fails(capsys, "train", "--data", "cifar10", *argv) == f"alexnet train: error: {message}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_cuda(capsys):
    for command in (["train", "--data", "cifar10"], ["evaluate", "--checkpoint", "x", "--data", "y"]):
        assert fails(capsys, *command, "--device", "cuda") == (
            f"alexnet {command[0]}: error: --device cuda: CUDA is not available on this machine; "
            "use --device cpu")
    assert fails(capsys, "train", "--data", "cifar10", "--arch", "two-tower", "--devices", "cpu",
                 "cuda:1") == ("alexnet train: error: --device cuda:1: CUDA is not available on "
                               "this machine; use --device cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_mixed_precision_without_a_gpu(cifar_env, capsys):
    assert fails(capsys, "train", "--data", "cifar10", "--amp", "fp16", "--train-subset", "64",
                 *FAST) == ("alexnet train: error: --amp fp16 needs a CUDA device, but training "
                            "runs on cpu: use --amp bf16 (CPUs with bfloat16 instructions), leave "
                            "--amp out, or train on a GPU")


def test_a_train_subset_larger_than_the_data(cifar_env, capsys):
    # 1,024 training images, of which a tenth (102) are held out for validation
    assert fails(capsys, "train", "--data", "cifar10", "--train-subset", "5000", *FAST) == (
        "alexnet train: error: a subset of 5000 images must be between 1 and the 922 images "
        "there are")


def test_ctrl_c_says_the_checkpoint_is_intact(cifar_env, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(Trainer, "fit", interrupted)
    assert fails(capsys, "train", "--data", "cifar10", "--train-subset", "64", *FAST,
                 code=130) == "alexnet train: interrupted; the last checkpoint written is intact"


# ---------------------------------------------------------------- real processes

def test_real_processes_print_one_line_and_no_traceback(small_cifar, tmp_path):
    """The same messages from ``python -m alexnet`` in new processes, with their exit status."""
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 half a zip")
    cases = [
        (["evaluate", "--checkpoint", str(tmp_path / "broken.pt"), "--data", "cifar10"], 1,
         f"alexnet evaluate: error: checkpoint {tmp_path / 'broken.pt'} is corrupt or truncated"),
        (["train", "--data", "cifar10", "--epochs", "-3"], 2,
         "alexnet train: error: argument --epochs: must be a positive integer, got -3"),
    ]
    processes = [subprocess.Popen(alexnet_command(*argv, "--device", "cpu"), text=True,
                                  env=subprocess_env(small_cifar), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for argv, _, _ in cases]
    for process, (argv, code, start) in zip(processes, cases):
        out, err = process.communicate(timeout=120)
        assert process.returncode == code, err
        assert out == "" and err.startswith(start) and err.count("\n") == 1, err
        assert "Traceback" not in err


# ---------------------------------------------------------------- alexnet pack's output

def test_pack_refuses_to_overwrite_a_file_unless_forced(tmp_path, capsys):
    """Before, `alexnet pack` wrote over any file, a training checkpoint included, and exited 0."""
    root = tiny_folder(tmp_path / "images")
    checkpoint = make_checkpoint(tmp_path / "run")
    before = open(checkpoint, "rb").read()
    pack = ["pack", str(root / "train"), "--size", "32"]
    assert fails(capsys, *pack, checkpoint) == (
        f"alexnet pack: error: {checkpoint} already exists: pass --force to replace it, or choose "
        "another output file")
    assert open(checkpoint, "rb").read() == before
    assert run(capsys, *pack, checkpoint, "--force")[0] == 0
    assert load_packed(checkpoint).images.shape == (6, 3, 32, 32)
    assert fails(capsys, *pack, str(tmp_path)) == (
        f"alexnet pack: error: {tmp_path} is a folder: name the output file, e.g. "
        f"{tmp_path / 'train.pt'}")
    below = tmp_path / "run" / "last.pt" / "train.pt"
    assert fails(capsys, *pack, str(below)) == (
        f"alexnet pack: error: cannot write {below}: {checkpoint} is a file, not a folder; choose "
        "another output path")


# ---------------------------------------------------------------- data that would mislead

def test_evaluate_refuses_data_with_other_classes_of_the_same_count(tmp_path, capsys):
    """Checkpoints store the class names: evaluating on two other classes used to report numbers
    with exit status 0."""
    checkpoint = make_checkpoint(tmp_path / "run", AlexNet(2, **SMALL), classes=["cat", "dog"])
    other = tiny_folder(tmp_path / "other", classes=("bird", "dog"))
    assert fails(capsys, "evaluate", "--checkpoint", checkpoint, "--data", str(other), *FAST) == (
        f"alexnet evaluate: error: the checkpoint was trained on other classes than {other}'s "
        "(class 0 is 'cat' in the checkpoint and 'bird' in the data): evaluate on the data it was "
        "trained on")
    same = tiny_folder(tmp_path / "same")
    code, out, err = run(capsys, "evaluate", "--checkpoint", checkpoint, "--data", str(same), *FAST)
    assert code == 0 and out.startswith(f"{checkpoint} on {same} (centre crop): top-1 error"), err


def test_a_data_set_with_one_class_is_refused(tmp_path, capsys):
    root = tiny_folder(tmp_path / "images", classes=("cat",))
    assert fails(capsys, "train", "--data", str(root), "--batch-size", "3", "--epochs", "1",
                 *FAST) == (f"alexnet train: error: {root / 'val'} has 1 class ('cat'): a "
                            "classifier needs at least two classes, one folder of images each")


def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped(tmp_path, capsys):
    """A 16-bit grayscale PNG used to be clipped (every value above 255 became white). Packed
    through the CLI, its pixels are now value · 255 / 65535, rounded."""
    root = tiny_folder(tmp_path / "images")
    levels = np.array([0, 257, 32768, 65535], dtype=np.uint16)
    Image.fromarray(np.repeat(levels, 64)[None, :].repeat(256, 0)).save(
        root / "train" / "cat" / "deep.png")
    assert Image.open(root / "train" / "cat" / "deep.png").mode == "I;16"
    out = tmp_path / "train.pt"
    assert run(capsys, "pack", str(root / "train"), str(out))[0] == 0
    packed = load_packed(out)
    deep = packed.images[3]                             # cat/deep.png sorts after cat/0..2.png
    assert deep[:, 128, 32::64].tolist() == [[0, 1, 128, 255]] * 3


def test_an_image_whose_white_level_is_unknown_is_refused_by_name(tmp_path, capsys):
    root = tiny_folder(tmp_path / "images", per_class=1)
    Image.fromarray(np.full((260, 300), 0.5, dtype=np.float32)).save(
        root / "train" / "cat" / "float.tif")
    status, _, err = run(capsys, "train", "--data", str(root), "--batch-size", "4", "--epochs",
                         "1", *FAST)
    assert status == 1 and err.count("\n") == 1, err
    assert err == (f"alexnet train: error: image {root / 'train' / 'cat' / 'float.tif'} has "
                   "floating-point pixels (PIL mode F), whose white level is unknown: convert it "
                   "to 8-bit RGB (or 16-bit PNG), or remove it\n")


def test_a_symlink_loop_in_a_class_folder_lists_each_image_once(tmp_path):
    """`cat/again -> ..` used to make torchvision list cat's images once per level of the loop
    (dozens of times, until the path got too long)."""
    from alexnet.data import image_folder

    root = tiny_folder(tmp_path / "images")
    os.symlink("..", root / "train" / "cat" / "again")
    os.symlink("../dog", root / "train" / "cat" / "dogs-too")     # a second path to dog's files
    dataset = image_folder(root / "train", train=False, verify=False)
    assert len(dataset) == 3 + 3 + 3              # cat's, dog's (once, under cat), dog's own
    cat = [p for p, t in dataset.samples if t == 0]
    assert len({os.path.realpath(p) for p in cat}) == len(cat) == 6
    assert sorted(os.path.basename(p) for p, t in dataset.samples if t == 1) == \
        ["0.png", "1.png", "2.png"]


# ---------------------------------------------------------------- faults of the machine

def test_no_network_and_no_alexnet_data(tmp_path, monkeypatch, capsys):
    """--data cifar10 with ALEXNET_DATA unset downloads; without a network that used to be a
    traceback from urllib."""
    monkeypatch.delenv("ALEXNET_DATA", raising=False)
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert fails(capsys, "train", "--data", "cifar10", *FAST) == (
        "alexnet train: error: could not download CIFAR-10 ([Errno -3] Temporary failure in name "
        "resolution): connect to the internet, or set ALEXNET_DATA to a folder holding "
        "cifar10-jpeg.tar.gz")


def test_a_data_loading_worker_killed_by_the_system(tmp_path, monkeypatch, capsys):
    """The out-of-memory killer takes a DataLoader worker (here it kills itself with SIGKILL, as
    the kernel would): one line with the likely cause and what to change, not a traceback."""
    from torch.utils.data import get_worker_info

    root = tiny_folder(tmp_path / "images", per_class=2)
    real = alexnet.folders.load_rgb

    def killed_in_a_worker(path):
        if get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path)

    monkeypatch.setattr(alexnet.folders, "load_rgb", killed_in_a_worker)
    message = fails(capsys, "train", "--data", str(root), "--batch-size", "2", "--epochs", "1",
                    "--device", "cpu", "--no-progress", "--workers", "1")
    assert message.startswith("alexnet train: error: a data-loading worker process died "
                              "(DataLoader worker (pid")
    assert message.endswith("most likely killed by the system's out-of-memory killer: use fewer "
                            "--workers than 1 or a smaller --batch-size, or give the machine more "
                            "memory")


# ---------------------------------------------------------------- numbers out of range

def test_the_largest_seed_trains_every_epoch(tmp_path, capsys):
    """A seed that trains epoch 1 must not crash epoch 2: the image-folder sampler used to seed
    with seed + epoch, past 2**64 - 1 in epoch 2 ("Overflow when unpacking long")."""
    root = tiny_folder(tmp_path / "images", per_class=2)
    code, out, err = run(capsys, "train", "--data", str(root), "--arch", "alexnet", "--epochs",
                         "2", "--batch-size", "4", "--seed", str(2**64 - 1), *FAST)
    assert code == 0, err
    assert out.startswith("epoch 2: train loss ")


@pytest.mark.parametrize("argv,message", [
    (["--seed", str(2**64)], f"argument --seed: must be an integer in [0, 2**64 - 1], got "
                             f"'{2**64}'"),
    (["--seed", "-1"], "argument --seed: must be an integer in [0, 2**64 - 1], got '-1'"),
    (["--seed", "1e3"], "argument --seed: must be an integer in [0, 2**64 - 1], got '1e3'"),
    (["--batch-size", str(2**63)], f"argument --batch-size: must be at most 2**63 - 1, got {2**63}"),
    (["--lr-factor", "1"], "argument --lr-factor: must be a number in (0, 1), got '1'"),
    (["--patience", "-1"], "argument --patience: must be an integer >= 0, got -1"),
    (["--milestones", "0"], "argument --milestones: must be a positive integer, got 0"),
])
def test_numbers_out_of_range_are_usage_errors(argv, message, cifar_env, capsys):
    assert fails(capsys, "train", "--data", "cifar10", "--epochs", "1", "--train-subset", "64",
                 *FAST, *argv, code=2) == (
        f"alexnet train: error: {message} (see alexnet train --help)")


def test_packed_images_smaller_than_the_crop(tmp_path, capsys):
    root = tiny_folder(tmp_path / "images")
    for split in ("train", "val"):
        assert run(capsys, "pack", str(root / split), str(tmp_path / "packed" / f"{split}.pt"),
                   "--size", "64")[0] == 0
    assert fails(capsys, "train", "--data", str(tmp_path / "packed"), *FAST) == (
        f"alexnet train: error: {tmp_path / 'packed' / 'val.pt'} holds 64x64 images, smaller than "
        "the network's 224x224 crop (§4.1): pack them again with --size 256 (§2)")


@pytest.mark.parametrize("options,message", [
    (dict(lr=float("inf")), "learning rate must be a finite number > 0, got inf"),
    (dict(lr=float("nan")), "learning rate must be a finite number > 0, got nan"),
    (dict(lr=0.0), "learning rate must be a finite number > 0, got 0.0"),
    (dict(lr=-0.01), "learning rate must be a finite number > 0, got -0.01"),
    (dict(epochs=2.5), "epochs must be an integer >= 1, got 2.5"),
    (dict(epochs=0), "epochs must be an integer >= 1, got 0"),
    (dict(batch_size=0), "batch size must be an integer in [1, 9223372036854775807], got 0"),
    (dict(batch_size=2**63), "batch size must be an integer in [1, 9223372036854775807], got "
                             "9223372036854775808"),
    (dict(momentum=1.0), "momentum must be a finite number in [0, 1), got 1.0"),
    (dict(weight_decay=-5e-4), "weight decay must be a finite number >= 0, got -0.0005"),
    (dict(weight_decay=float("inf")), "weight decay must be a finite number >= 0, got inf"),
    (dict(lr_factor=10), "lr_factor must be a finite number in (0, 1), got 10"),
    (dict(patience=-1), "patience must be an integer >= 0, got -1"),
    (dict(schedule="cosine"), "schedule must be one of 'plateau', 'step', got 'cosine'"),
    (dict(schedule="step", milestones=[30, 20]),
     "milestones must increase, got [30, 20]: list each epoch once, in order"),
    (dict(schedule="step", milestones=[30.5]), "a milestone must be an integer >= 1, got 30.5"),
    (dict(seed=-1), "seed must be an integer in [0, 18446744073709551615], got -1"),
    (dict(seed=2**64), "seed must be an integer in [0, 18446744073709551615], got "
                       "18446744073709551616"),
    (dict(amp="fp8"), "amp must be one of None, 'bf16', 'fp16', got 'fp8'"),
])
def test_absurd_training_options_from_python_are_one_line(options, message):
    """Before, TrainConfig(lr=inf) was accepted and trained on NaNs; non-integer epochs failed deep
    inside range()."""
    with pytest.raises(AlexNetError) as error:
        TrainConfig(**options)
    assert str(error.value) == message


def test_the_training_loader_must_give_the_configs_batch_size():
    """TrainConfig.batch_size is the batch size of the run (it is saved in every checkpoint); a
    loader that disagrees with it is one line, not a silently wrong record."""
    from alexnet.data import BatchLoader, TensorImages

    data = TensorImages(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), torch.arange(8) % 2,
                        ["a", "b"])
    trainer = Trainer(FourLayerCNN(2), TrainConfig(epochs=1, batch_size=128, progress=False))
    with pytest.raises(AlexNetError) as error:
        trainer.fit(BatchLoader(data, 4))
    assert str(error.value) == (
        "the training loader gives batches of 4 images, but TrainConfig.batch_size is 128: build "
        "the loader with batch_size=config.batch_size // world_size")
    trainer = Trainer(FourLayerCNN(2), TrainConfig(epochs=1, batch_size=4, progress=False))
    assert len(trainer.fit(BatchLoader(data, 4))) == 1


def test_the_trainer_takes_the_models_device_and_a_two_tower_model_places_itself():
    model = FourLayerCNN()
    assert Trainer(model).device == torch.device("cpu")
    towers = TwoTowerAlexNet(10, ("cpu", "cpu"), **SMALL)
    assert Trainer(towers).device == torch.device("cpu")
    with pytest.raises(AlexNetError, match="a TwoTowerAlexNet places its towers itself"):
        Trainer(towers, device="cuda:0")

"""The CUDA paths, checked on a CPU (issue 20): a patched capability, device count or CUDA
availability stands in for the GPU, so that the first GPU a user meets (Colab's T4 at capability
7.5, an H100, two GPUs, a machine with fewer GPUs than the checkpoint's) takes the path it should.

The Triton kernel's own launches (the tensor's GPU, batches over the grid's z limit, ROCm's log)
are tested in tests/test_kernels_lrn.py, under the interpreter.
"""
from __future__ import annotations

import types
import warnings

import pytest
import torch

import alexnet.lrn
import alexnet.runtime
import alexnet.train
from alexnet import CifarAlexNet, FourLayerCNN, TwoTowerAlexNet
from alexnet.cli import main
from alexnet.datasets import TensorImages
from alexnet.errors import AlexNetError
from alexnet.loaders import BatchLoader
from alexnet.lrn import local_response_norm_reference
from alexnet.resume import set_rng_state
from alexnet.runtime import amp_support, check_amp, exact_float32, memory_format, triton_supports
from alexnet.train import Meter, TrainConfig, Trainer
from alexnet.two_tower import default_devices, gather, logits_difference


def _gpu(monkeypatch, capability=(7, 5), count=1, name="Tesla T4", hip=None):
    """Make torch report ``count`` CUDA GPUs of ``capability``; ``is_bf16_supported()`` says True
    as it does on a T4 (it counts emulation), so nothing may decide from it."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True:
                        including_emulation or capability >= (8, 0))
    monkeypatch.setattr(torch.version, "hip", hip)


# ---------------------------------------------------------------- the capability decides

@pytest.mark.parametrize("capability,modes", [((7, 5), ("fp16",)), ((8, 0), ("bf16", "fp16")),
                                              ((9, 0), ("bf16", "fp16"))])
def test_amp_support_follows_the_capability_not_emulation(monkeypatch, capability, modes):
    _gpu(monkeypatch, capability)
    assert amp_support("cuda:0") == modes
    assert triton_supports("cuda:0") == (capability >= (8, 0))


def test_rocm_has_bf16_and_triton(monkeypatch):
    _gpu(monkeypatch, (9, 4), name="AMD Instinct MI300X", hip="6.2")
    assert amp_support("cuda") == ("bf16", "fp16") and triton_supports("cuda")


def test_the_cpu_offers_bf16_only_with_bf16_instructions(monkeypatch):
    monkeypatch.setattr(alexnet.runtime, "cpu_has_bf16", lambda: False)
    assert amp_support("cpu") == ()
    with pytest.raises(AlexNetError, match="no bfloat16 instructions"):
        Trainer(FourLayerCNN(), TrainConfig(amp="bf16"), "cpu")
    monkeypatch.setattr(alexnet.runtime, "cpu_has_bf16", lambda: True)
    assert amp_support("cpu") == ("bf16",)
    Trainer(FourLayerCNN(), TrainConfig(amp="bf16"), "cpu")


def test_bf16_on_a_t4_is_refused_in_one_line_naming_fp16(monkeypatch):
    _gpu(monkeypatch, (7, 5))
    with pytest.raises(AlexNetError) as error:
        check_amp("bf16", torch.device("cuda", 0))
    assert str(error.value) == (
        "--amp bf16: cuda:0 (Tesla T4, compute capability 7.5) has no bfloat16 arithmetic (it "
        "needs 8.0+): use --amp fp16 (with a gradient scaler), or leave --amp out")
    check_amp("fp16", torch.device("cuda", 0))
    check_amp(None, torch.device("cuda", 0))


def test_the_command_line_refuses_bf16_on_a_t4_before_loading_data(monkeypatch, capsys, tmp_path):
    _gpu(monkeypatch, (7, 5))
    monkeypatch.setattr(alexnet.runtime, "cpu_has_bf16", lambda: True)   # the CPU has it: no matter
    code = main(["train", "--data", str(tmp_path / "absent"), "--device", "cuda", "--amp", "bf16",
                 "--no-progress"])
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        "alexnet train: error: --amp bf16: cuda (Tesla T4, compute capability 7.5) has no "
        "bfloat16 arithmetic (it needs 8.0+): use --amp fp16 (with a gradient scaler), or leave "
        "--amp out"]


def test_the_triton_lrn_runs_from_capability_8_and_the_reference_below_said_once(monkeypatch):
    from alexnet.kernels import lrn as kernel

    monkeypatch.setattr(kernel, "available", lambda: True)
    alexnet.lrn._say_reference_once.cache_clear()
    on_gpu = types.SimpleNamespace(is_cuda=True, device=torch.device("cuda", 0))  # a stand-in
    _gpu(monkeypatch, (7, 5))
    with pytest.warns(UserWarning, match=r"capability 7.5\) runs the reference"):
        assert not alexnet.lrn._use_kernel(on_gpu)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # once: the second call is silent
        assert not alexnet.lrn._use_kernel(on_gpu)
    _gpu(monkeypatch, (8, 0), name="NVIDIA A100")
    assert alexnet.lrn._use_kernel(on_gpu)
    alexnet.lrn._say_reference_once.cache_clear()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_reference_lrn_in_half_precision_keeps_large_activities(dtype):
    """In float16 the square of 300 is infinite: computed in float16 the output was 0."""
    x = torch.tensor([0.5, 150.0, 255.0, 300.0, 1000.0]).reshape(1, 5, 1, 1).repeat(2, 1, 3, 3)
    expected = local_response_norm_reference(x.double(), 5, 1e-4, 0.75, 2.0)
    got = local_response_norm_reference(x.to(dtype), 5, 1e-4, 0.75, 2.0)
    assert got.dtype == dtype
    torch.testing.assert_close(got.double(), expected, rtol=1e-2, atol=1e-3)
    assert bool((got[x > 100] > 1).all())          # not zeroed


# ---------------------------------------------------------------- the trainer on a GPU

class _Batches:
    """``steps`` fixed CIFAR-sized batches of 8, and a spy on the layout that reaches the model."""

    batch_size = 8

    def __init__(self, steps: int):
        g = torch.Generator().manual_seed(0)
        self.batches = [(torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))
                        for _ in range(steps)]

    def __iter__(self):
        return iter(self.batches)


def _sync_calls(monkeypatch) -> dict:
    """Count the calls that make a host wait for a GPU (reads of a value) or copy a Python number
    to it (``torch.tensor``)."""
    counts = {}

    def counting(owner, name):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return original(*args, **kwargs)
        monkeypatch.setattr(owner, name, wrapper)

    for name in ("item", "tolist", "nonzero", "__bool__", "__float__", "__int__"):
        counting(torch.Tensor, name)
    counting(torch, "tensor")
    return counts


@pytest.mark.parametrize("phase", ["train", "evaluate"])
def test_no_host_device_sync_per_step(monkeypatch, phase):
    """As on a GPU (losses read every GPU_CHECK_STEPS steps), an epoch of 3 steps and one of 9
    make the same reads: none per step, the meter's once per epoch (before: a tensor built from a
    Python number every step)."""
    monkeypatch.setattr(Trainer, "check_every", property(lambda self: 1000))
    counted = []
    for steps in (3, 9):
        torch.manual_seed(0)
        trainer = Trainer(CifarAlexNet(), TrainConfig(batch_size=8, progress=False), "cpu")
        with monkeypatch.context() as m:
            counts = _sync_calls(m)
            if phase == "train":
                trainer.train_epoch(_Batches(steps), 0)
            else:
                trainer.evaluate(_Batches(steps))
        counted.append(counts)
    assert counted[0] == counted[1]
    assert counted[0].get("tensor", 0) == 0 and counted[0].get("tolist") == 1


def test_the_meter_adds_without_reading_back(monkeypatch):
    meter = Meter(torch.device("cpu"))
    loss, logits, targets = torch.full((), 2.0), torch.randn(4, 10), torch.arange(4)
    counts = _sync_calls(monkeypatch)
    for _ in range(3):
        meter.add(loss, logits, targets)
    assert counts == {}
    assert meter.result("val")["val_loss"] == pytest.approx(2.0)


def test_memory_format_is_channels_last_for_conv_nets_on_cuda():
    assert memory_format(CifarAlexNet(), "cuda:0") == torch.channels_last
    assert memory_format(CifarAlexNet(), "cpu") == torch.contiguous_format
    assert memory_format(torch.nn.Linear(3, 2), "cuda") == torch.contiguous_format


def test_the_trainer_trains_in_the_layout_the_device_gets(monkeypatch):
    """Where :func:`memory_format` says channels-last (CUDA), the model's kernels and every batch
    are channels-last (as ``bench`` times them)."""
    monkeypatch.setattr(alexnet.train, "memory_format", lambda model, device: torch.channels_last)
    model, seen = CifarAlexNet(), []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    trainer = Trainer(model, TrainConfig(batch_size=8, progress=False), "cpu")
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    trainer.train_epoch(_Batches(2), 0)
    trainer.evaluate(_Batches(1))
    assert len(seen) == 3
    assert all(x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
               for x in seen)


# ---------------------------------------------------------------- resuming on another machine

def test_resuming_with_fp16_after_a_run_without_amp_starts_a_fresh_scaler(monkeypatch, tmp_path):
    """A run without --amp saved an empty (disabled) scaler state; resuming with fp16 used to be
    refused as a checkpoint "edited by hand"."""
    config = dict(batch_size=8, progress=False, checkpoint_dir=str(tmp_path), schedule="step")
    torch.manual_seed(0)
    Trainer(FourLayerCNN(), TrainConfig(epochs=1, **config), "cpu").fit(_Batches(1))
    monkeypatch.setattr(alexnet.train, "check_amp", lambda amp, device: None)  # fp16 as on CUDA
    resumed = Trainer(FourLayerCNN(), TrainConfig(epochs=2, amp="fp16", **config), "cpu")
    with pytest.warns(UserWarning, match="with a fresh gradient scaler"):
        assert resumed.resume()
    assert resumed.scaler.is_enabled() and resumed.epoch == 1
    assert resumed.config_changes[-1] == {"after_epoch": 1, "option": "amp", "from": None,
                                          "to": "fp16", "grad_scaler": "fresh"}


def test_resuming_on_a_machine_with_fewer_gpus_restores_the_gpus_it_has(monkeypatch):
    """The checkpoint holds one CUDA generator state per GPU of the saving machine (two); this
    machine has one: its state is restored, the second has no GPU to go to."""
    from alexnet.resume import rng_state

    set_indices = []
    _gpu(monkeypatch, (8, 0), count=1)
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda state, device="cuda": set_indices.append(device))
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: [
        torch.cuda.set_rng_state(s, i) for i, s in enumerate(states)])  # as torch's does
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [])
    state = rng_state()
    state["cuda"] = [torch.zeros(16, dtype=torch.uint8)] * 2
    set_rng_state(state)
    assert set_indices == [0]


# ---------------------------------------------------------------- two towers

def test_two_tower_default_devices_follow_the_gpus_there_are(monkeypatch):
    _gpu(monkeypatch, (8, 0), count=2)
    assert default_devices() == ("cuda:0", "cuda:1")
    _gpu(monkeypatch, (7, 5), count=1)
    with pytest.warns(UserWarning, match="both towers of the TwoTowerAlexNet share cuda:0"):
        assert default_devices() == ("cuda:0", "cuda:0")
    with pytest.raises(AlexNetError, match=r"this machine has 1 CUDA device\(s\): use "
                                           r"devices=\('cuda:0', 'cuda:0'\)"):
        TwoTowerAlexNet(10, ("cuda:0", "cuda:1"))
    _gpu(monkeypatch, count=0)
    with pytest.raises(AlexNetError, match=r"no CUDA device: pass devices=\('cpu', 'cpu'\)"):
        TwoTowerAlexNet(10)


def test_gather_copies_to_the_cpu_blocking_and_to_a_gpu_asynchronously(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.Tensor, "to", lambda self, device, non_blocking=False:
                        calls.append((str(device), non_blocking)) or self)
    halves = [torch.ones(2, 3), torch.zeros(2, 3)]
    assert gather(halves, torch.device("cpu")).shape == (2, 6)
    gather(halves, torch.device("cuda", 0))
    assert calls == [("cpu", False)] * 2 + [("cuda:0", True)] * 2


def test_the_two_tower_check_compares_in_exact_float32(monkeypatch):
    """Chapter 7's 1e-5 equality: TF32 (cuDNN's default on Ampere+) is off while it computes."""
    from alexnet import AlexNet

    small = dict(channels=(8, 16, 24, 24, 16), hidden=32)
    torch.manual_seed(0)
    grouped = AlexNet(10, groups=2, init="pytorch", **small).eval()
    towers = TwoTowerAlexNet.from_grouped(grouped, ("cpu", "cpu")).eval()
    flags = []
    grouped.register_forward_pre_hook(lambda *_: flags.append(
        (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)))
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    difference, size = logits_difference(grouped, towers, torch.randn(2, 3, 224, 224) * 60)
    assert flags == [(False, False)]
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == before
    assert difference <= 1e-5 * size
    with exact_float32():
        assert not torch.backends.cudnn.allow_tf32


# ---------------------------------------------------------------- data on the device

def test_a_data_set_too_large_for_the_device_is_said_so(monkeypatch):
    def out_of_memory(self, device):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 30.00 GiB")

    monkeypatch.setattr(TensorImages, "to", out_of_memory)
    data = TensorImages(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64),
                        ["a"])
    with pytest.raises(AlexNetError) as error:
        BatchLoader(data, 2, device="cpu")
    assert "does not fit in the memory of cpu" in str(error.value)
    assert "batch-size" not in str(error.value)

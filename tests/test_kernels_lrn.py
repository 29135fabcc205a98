"""The fused Triton LRN (§3.3) against the stock-PyTorch reference, forward and backward.

On a machine without CUDA the kernels run on Triton's CPU interpreter: the module fixture sets
``TRITON_INTERPRET=1`` and rebuilds the kernels (Triton reads the variable when a function is
jit-decorated, which :mod:`alexnet.kernels.lrn` does lazily), then restores both afterwards so the
rest of the suite is unaffected. With CUDA the same tests run the compiled kernels on the GPU.
Every check draws fresh random inputs and compares with float64 by ‖out − ref‖ / ‖ref‖.
"""
from __future__ import annotations

import os

import pytest
import torch

pytest.importorskip("triton")

from alexnet.kernels import lrn as kernel  # noqa: E402
from alexnet.lrn import local_response_norm, local_response_norm_reference  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# float64 storage is computed in float32 inside the kernel, like float32
TOLERANCE = {torch.float64: 1e-5, torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}
ALPHA = 0.05  # larger than the paper's 1e-4 so that the sum of squares matters in the test


@pytest.fixture(scope="module", autouse=True)
def triton_backend():
    """Interpret the kernels on the CPU when there is no GPU; compile them when there is."""
    saved = os.environ.get("TRITON_INTERPRET")
    if DEVICE == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    kernel._kernels.cache_clear()
    yield
    if saved is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = saved
    kernel._kernels.cache_clear()


def _random(shape, dtype=torch.float32, channels_last=False, seed=0):
    """Post-ReLU-like activity: non-negative, spread over two orders of magnitude, never zeros."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=generator, dtype=torch.float64) * 4
    x = (x * torch.rand(shape, generator=generator, dtype=torch.float64).pow(3)).to(dtype)
    x = x.to(DEVICE)
    return x.to(memory_format=torch.channels_last) if channels_last else x.contiguous()


def _relative_error(out, ref):
    assert not torch.isnan(out).any(), "NaN in the output"
    return ((out.double() - ref).norm() / ref.norm()).item()


def _reference(x, grad, size, groups, alpha=ALPHA):
    """Forward and input-gradient of the stock-PyTorch path in float64, on the same values."""
    x64 = x.detach().double().requires_grad_(True)
    y64 = local_response_norm_reference(x64, size, alpha, 0.75, 2.0, groups)
    (dx64,) = torch.autograd.grad(y64, x64, grad.double())
    return y64.detach(), dx64


def _kernel(x, grad, size, groups, alpha=ALPHA):
    x = x.detach().clone().requires_grad_(True)
    y = kernel.local_response_norm(x, size, alpha, 0.75, 2.0, groups)
    (dx,) = torch.autograd.grad(y, x, grad)
    return y, dx


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("groups,channels", [(1, 7), (2, 10)])
@pytest.mark.parametrize("size", [3, 5, 7])
def test_matches_reference(channels_last, groups, channels, size):
    x = _random((2, channels, 3, 5), channels_last=channels_last, seed=size + channels)
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(1)).to(DEVICE)
    y, dx = _kernel(x, grad, size, groups)
    y64, dx64 = _reference(x, grad, size, groups)
    assert _relative_error(y, y64) < 1e-5 and _relative_error(dx, dx64) < 1e-5
    # the clipped windows: first and last channel, and the two sides of the group boundary
    for c in {0, channels // groups - 1, min(channels // groups, channels - 1), channels - 1}:
        assert _relative_error(dx[:, c], dx64[:, c]) < 1e-5, f"channel {c}"
    assert y.stride() == x.stride() and dx.stride() == x.stride()  # layout kept, no copy


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16],
                         ids=lambda d: str(d).split(".")[-1])
def test_dtypes(dtype):
    x = _random((2, 12, 4, 3), dtype, channels_last=True, seed=3)
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(4)).to(DEVICE, dtype)
    y, dx = _kernel(x, grad, 5, 2)
    y64, dx64 = _reference(x, grad, 5, 2)
    assert y.dtype == dx.dtype == dtype
    assert _relative_error(y, y64) < TOLERANCE[dtype]
    assert _relative_error(dx, dx64) < TOLERANCE[dtype]


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
def test_many_tiles_every_element_written(channels_last):
    """Small tiles put tile edges inside windows and groups; NaN-poisoned outputs are overwritten."""
    x = _random((1, 24, 3, 4), channels_last=channels_last, seed=5)  # groups of 12 channels
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(6)).to(DEVICE)
    y64, dx64 = _reference(x, grad, 5, 2)
    # tile=8: NHWC programs hold 8 channels of 1 position, NCHW 8 of the 12 positions x 1 channel
    y = kernel.lrn_forward(x, 5, ALPHA, 0.75, 2.0, 2, tile=8,
                           out=torch.full_like(x, float("nan")))
    dx = kernel.lrn_backward(grad, x, 5, ALPHA, 0.75, 2.0, 2, tile=8,
                             out=torch.full_like(x, float("nan")))
    assert _relative_error(y, y64) < 1e-5 and _relative_error(dx, dx64) < 1e-5


def test_other_strides_and_expanded_gradient():
    """A non-collapsible view is copied; ``sum()``'s zero-stride gradient is read in place."""
    x = _random((2, 6, 5, 4), seed=7).transpose(2, 3)  # H and W do not collapse
    leaf = x.detach().clone().requires_grad_(True)
    kernel.local_response_norm(leaf, 3, ALPHA, 0.75, 2.0, 1).sum().backward()
    ref = x.detach().double().requires_grad_(True)
    local_response_norm_reference(ref, 3, ALPHA, 0.75, 2.0, 1).sum().backward()
    assert _relative_error(leaf.grad, ref.grad) < 1e-5


def test_paper_constants_at_alexnet_channel_count():
    """k=2, n=5, alpha=1e-4, beta=0.75 on 96 maps split over two GPUs, as in the first layer."""
    x = _random((1, 96, 3, 3), channels_last=True, seed=8) * 10
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(9)).to(DEVICE)
    y, dx = _kernel(x, grad, 5, 2, alpha=1e-4)
    y64, dx64 = _reference(x, grad, 5, 2, alpha=1e-4)
    assert _relative_error(y, y64) < 1e-5 and _relative_error(dx, dx64) < 1e-5


def test_opcheck():
    """Schema, fake (meta) implementation, autograd registration and AOT dispatch of both ops."""
    x = _random((2, 6, 3, 3), torch.float64, seed=10)
    grad = torch.randn(x.shape, dtype=torch.float64).to(DEVICE)
    args = (5, ALPHA, 0.75, 2.0, 2)
    torch.library.opcheck(torch.ops.alexnet.lrn.default, (x.requires_grad_(True), *args))
    torch.library.opcheck(torch.ops.alexnet.lrn_backward.default, (grad, x.detach(), *args))


@pytest.mark.parametrize("lrn", [kernel.local_response_norm, local_response_norm],
                         ids=["kernel", "package"])
def test_compile_without_graph_break(lrn):
    """``fullgraph=True`` fails on any graph break; the op's autograd formula runs compiled too.

    ``package`` is what the model calls: on CUDA its dispatch to the kernel is traced as well.
    """
    backend = "inductor" if DEVICE == "cuda" else "aot_eager"  # CPU CI needs no C++ toolchain

    def step(x):
        return lrn(torch.relu(x), 5, ALPHA, 0.75, 2.0, 2).square().sum()

    x = torch.randn(2, 10, 4, 4, device=DEVICE, requires_grad=True)
    torch.compile(step, backend=backend, fullgraph=True)(x).backward()
    eager = x.detach().clone().requires_grad_(True)
    step(eager).backward()
    assert _relative_error(x.grad, eager.grad.double()) < 1e-5


def test_autocast_keeps_input_dtype():
    """Under autocast the conv output is bf16 and so is the LRN's; values match the reference."""
    conv = torch.nn.Conv2d(3, 10, 3).to(DEVICE)
    image = torch.randn(2, 3, 6, 6, device=DEVICE)
    with torch.autocast(DEVICE, dtype=torch.bfloat16):
        a = torch.relu(conv(image))
        y = kernel.local_response_norm(a, 5, ALPHA, 0.75, 2.0, 2)
    assert a.dtype == y.dtype == torch.bfloat16
    y64 = local_response_norm_reference(a.double(), 5, ALPHA, 0.75, 2.0, 2)
    assert _relative_error(y, y64) < 1e-2


def test_available(monkeypatch):
    assert kernel.available()
    if DEVICE == "cpu":
        monkeypatch.delenv("TRITON_INTERPRET")
        assert not kernel.available()


@pytest.mark.skipif(DEVICE != "cuda", reason="the package uses the kernel on CUDA tensors only")
def test_package_dispatches_to_kernel_on_cuda():
    """``alexnet.local_response_norm`` on CUDA is the kernel, bit for bit, at AlexNet's size."""
    x = _random((16, 96, 55, 55), torch.bfloat16, channels_last=True, seed=11)
    assert torch.equal(local_response_norm(x, 5, 1e-4, 0.75, 2.0, 2),
                       kernel.local_response_norm(x, 5, 1e-4, 0.75, 2.0, 2))
    y64 = local_response_norm_reference(x.double(), 5, 1e-4, 0.75, 2.0, 2)
    assert _relative_error(local_response_norm(x, 5, 1e-4, 0.75, 2.0, 2), y64) < 1e-2


@pytest.mark.skipif(DEVICE != "cuda", reason="the model uses the kernel on CUDA only")
def test_alexnet_training_step_same_with_kernel_and_reference(monkeypatch):
    """A user changes no line: AlexNet on CUDA runs the kernel, and its loss and gradients match
    the stock-PyTorch LRN path (float32, channels-last)."""
    import alexnet.lrn
    from alexnet import AlexNet

    torch.manual_seed(0)
    model = AlexNet(dropout=0.0).to(DEVICE, memory_format=torch.channels_last)
    images = (torch.randn(4, 3, 224, 224, device=DEVICE) * 60).to(memory_format=torch.channels_last)

    def loss_and_grad():
        model.zero_grad()
        loss = model(images).logsumexp(1).sum()
        loss.backward()
        return loss.detach(), model.features[1].weight.grad.clone()  # conv1, before both LRNs

    fused = loss_and_grad()
    monkeypatch.setattr(alexnet.lrn, "_use_kernel", lambda x: False)
    reference = loss_and_grad()
    assert _relative_error(fused[0], reference[0].double()) < 1e-4
    assert _relative_error(fused[1], reference[1].double()) < 1e-3


# ---------------------------------------------------------------- launches (issue 20)

def test_a_batch_over_the_grid_z_limit_is_launched_in_slices(monkeypatch):
    """CUDA caps a grid's z (the batch axis) at 65,535: with the cap patched to 2, a batch of 5
    goes in 3 launches each way, and every image is computed (forward and backward)."""
    monkeypatch.setattr(kernel, "MAX_GRID_Z", 2)
    launched, grid = [], kernel._grid
    monkeypatch.setattr(kernel, "_grid", lambda t, *blocks: launched.append(t.shape[0]) or
                        grid(t, *blocks))
    x = _random((5, 7, 3, 4), seed=5)
    grad = _random((5, 7, 3, 4), seed=6)
    y, dx = _kernel(x, grad, 5, 1)
    y64, dx64 = _reference(x, grad, 5, 1)
    assert launched == [2, 2, 1, 2, 2, 1]
    assert _relative_error(y, y64) < TOLERANCE[torch.float32]
    assert _relative_error(dx, dx64) < TOLERANCE[torch.float32]


class _OnGpu:
    """A stand-in for a tensor on ``device`` (a GPU this machine lacks): a meta tensor's shape and
    strides, the GPU's name."""

    def __init__(self, t: torch.Tensor, device: torch.device):
        self.t, self.device, self.shape = t, device, t.shape

    def stride(self, dim: int) -> int:
        return self.t.stride(dim)

    def narrow(self, dim: int, start: int, length: int) -> "_OnGpu":
        return _OnGpu(self.t.narrow(dim, start, length), self.device)


def test_the_kernel_launches_on_the_tensors_gpu_not_the_current_one(monkeypatch):
    """Triton launches on the current GPU; a tensor on cuda:1 (the second tower, --device cuda:1,
    a torchrun process's second GPU) must make cuda:1 current for its launches, and only then."""
    current = [torch.device("cuda", 0)]

    class Guard:
        def __init__(self, device):
            self.device = torch.device(device)

        def __enter__(self):
            self.saved, current[0] = current[0], self.device

        def __exit__(self, *exc):
            current[0] = self.saved

    launches = []

    class FakeKernel:
        def __getitem__(self, grid):
            return lambda *args, **meta: launches.append((grid[2], current[0]))

    monkeypatch.setattr(torch.cuda, "device", Guard)
    monkeypatch.setattr(kernel, "MAX_GRID_Z", 3)
    monkeypatch.setattr(kernel, "_fast_log", lambda: True)
    on_one = [_OnGpu(torch.empty(7, 4, 5, 5, device="meta"), torch.device("cuda", 1))
              for _ in range(2)]
    kernel.launch(FakeKernel(), on_one, 4, 1e-4, 0.75, 2.0, block_p=32, block_c=4, HALF=2)
    assert launches == [(3, torch.device("cuda", 1)), (3, torch.device("cuda", 1)),
                        (1, torch.device("cuda", 1))]
    assert current[0] == torch.device("cuda", 0)          # restored after the launch


def test_fast_log2_only_in_compiled_cuda_code(monkeypatch):
    """ROCm's libdevice has no ``fast_log2f`` (tl.log2 there); the interpreter has none either."""
    monkeypatch.setattr(kernel, "_interpreted", lambda: False)
    monkeypatch.setattr(torch.version, "hip", None)
    assert kernel._fast_log()
    monkeypatch.setattr(torch.version, "hip", "6.2")
    assert not kernel._fast_log()
    monkeypatch.setattr(kernel, "_interpreted", lambda: True)
    monkeypatch.setattr(torch.version, "hip", None)
    assert not kernel._fast_log()

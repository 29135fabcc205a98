"""The C loop of the CPU path (alexnet/kernels/lrn_cpu.c): its numbers, that the default path
uses it, its build cache, and the PyTorch operations where it cannot be built."""
import os
import warnings

import pytest
import torch

from alexnet.kernels import lrn_cpu
from alexnet.lrn import local_response_norm, local_response_norm_reference, use_implementation

pytestmark = pytest.mark.skipif(not lrn_cpu.available(), reason="no C compiler here")


def _pair(shape, dtype, layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.randn(*shape, generator=g, dtype=torch.float64) * 80).relu()
    grad = torch.randn(*shape, generator=g, dtype=torch.float64)
    return (a.to(dtype).contiguous(memory_format=layout).requires_grad_(),
            grad.to(dtype).contiguous(memory_format=layout))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("groups,size,beta", [(1, 5, 0.75), (2, 5, 0.75), (2, 3, 0.6),
                                              (1, 1, 0.75), (3, 7, 1.0)])
def test_float32_matches_the_float64_reference(layout, groups, size, beta):
    """Over 400 positions per map: the loop's blocks of 256 and a last, partial block."""
    a, grad = _pair((3, 12, 20, 20), torch.float32, layout)
    b = local_response_norm(a, size, 1e-3, beta, 2.0, groups)
    (da,) = torch.autograd.grad(b, a, grad)
    x = a.detach().double().requires_grad_()
    ref = local_response_norm_reference(x, size, 1e-3, beta, 2.0, groups)
    (dref,) = torch.autograd.grad(ref, x, grad.double())
    assert b.is_contiguous(memory_format=layout) and da.is_contiguous(memory_format=layout)
    torch.testing.assert_close(b.double(), ref, rtol=2e-6, atol=1e-6)
    torch.testing.assert_close(da.double(), dref, rtol=1e-5, atol=1e-6 * dref.abs().max().item())


def test_the_default_cpu_path_is_the_c_loop_and_analytic_is_not(monkeypatch):
    calls = []
    for name in ("forward", "backward"):
        real = getattr(lrn_cpu, name)
        monkeypatch.setattr(lrn_cpu, name, lambda *a, real=real, name=name: (
            calls.append(name), real(*a))[1])
    a, grad = _pair((2, 8, 5, 5), torch.float32, torch.contiguous_format)
    torch.autograd.grad(local_response_norm(a), a, grad)
    assert set(calls) == {"forward", "backward"}
    calls.clear()
    with use_implementation("analytic"):
        torch.autograd.grad(local_response_norm(a), a, grad)
    assert calls == []


def test_a_nan_reaches_the_outputs_whose_window_holds_it():
    a = torch.ones(1, 9, 2, 2)
    a[0, 4, 1, 1] = float("nan")
    b = local_response_norm(a)
    assert torch.isnan(b[0, 2:7, 1, 1]).all() and not torch.isnan(b[0, :2]).any()
    assert not torch.isnan(b[0, :, 0]).any()


@pytest.fixture
def fresh_build(monkeypatch, tmp_path):
    """The build cache in a temporary folder, and the library built again on the next call."""
    monkeypatch.setenv("ALEXNET_KERNELS", str(tmp_path / "kernels"))
    lrn_cpu.library.cache_clear()
    yield tmp_path / "kernels"
    lrn_cpu.library.cache_clear()


def test_the_build_is_kept_and_reused(fresh_build):
    assert lrn_cpu.library() is not None
    (built,) = fresh_build.iterdir()
    assert built.name.startswith("lrn_cpu-") and built.suffix in (".so", ".dll")
    stamp = built.stat().st_mtime_ns
    lrn_cpu.library.cache_clear()
    assert lrn_cpu.library() is not None
    assert [p.name for p in fresh_build.iterdir()] == [built.name]
    assert built.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("compiler,why", [("no-such-cc", "no C compiler ('no-such-cc')"),
                                          ("false", "building lrn_cpu.c failed")])
def test_without_a_compiler_the_pytorch_operations_compute_it(fresh_build, monkeypatch,
                                                               compiler, why):
    monkeypatch.setenv("CC", compiler)
    a, grad = _pair((2, 8, 5, 5), torch.float64, torch.contiguous_format)
    with pytest.warns(UserWarning, match=r"LRN on the CPU uses PyTorch operations \(") as said:
        b = local_response_norm(a)
    assert len(said) == 1 and why in str(said[0].message) and "install a C compiler" in \
        str(said[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # said once, not at every call
        (da,) = torch.autograd.grad(local_response_norm(a), a, grad)
    (dref,) = torch.autograd.grad(local_response_norm_reference(a), a, grad)
    torch.testing.assert_close(b, local_response_norm_reference(a), rtol=1e-12, atol=0)
    torch.testing.assert_close(da, dref, rtol=1e-10, atol=1e-14)
    assert not any(p.suffix in (".so", ".dll") for p in fresh_build.glob("*"))


def test_the_build_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ALEXNET_KERNELS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert lrn_cpu.build_folder() == tmp_path / "alexnet" / "kernels"
    monkeypatch.setenv("ALEXNET_KERNELS", os.fspath(tmp_path / "k"))
    assert lrn_cpu.build_folder() == tmp_path / "k"


def test_the_run_cache_keys_cpu_runs_by_the_build_that_computed_their_lrn(monkeypatch):
    """A run cached with the C loop is not reused where LRN runs in PyTorch operations (or
    another build of the loop): they round differently."""
    from alexnet.reproduce import cache

    cache.code_sha256.cache_clear()
    with_loop = cache.code_sha256()
    assert lrn_cpu.build().startswith("lrn_cpu-")
    monkeypatch.setattr(lrn_cpu, "build", lambda: "pytorch-ops")
    cache.code_sha256.cache_clear()
    try:
        assert cache.code_sha256() != with_loop
        assert cache.code_sha256(cuda=True) == cache.code_sha256.__wrapped__(cuda=True)
    finally:
        cache.code_sha256.cache_clear()


@pytest.mark.slow
def test_the_wheel_ships_the_c_source(tmp_path):
    """The loop is built from its source on the user's machine: a wheel without it would fall
    back to the PyTorch operations everywhere."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(lrn_cpu.__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path), str(root)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("alexnet-*.whl")
    assert "alexnet/kernels/lrn_cpu.c" in zipfile.ZipFile(wheel).namelist()


@pytest.mark.parametrize("one_call", [True, False])
def test_one_openmp_call_or_chunks_on_helper_threads_give_the_same_numbers(monkeypatch,
                                                                           one_call):
    """A build with OpenMP takes the whole tensor in one call; one without (Apple's clang) is
    given chunks on the package's helper threads. Both are the equation's."""
    import alexnet.lrn as lrn

    if one_call and not lrn_cpu.openmp():
        pytest.skip("this build has no OpenMP")
    monkeypatch.setattr(lrn, "_one_call", lambda: one_call)
    monkeypatch.setattr(lrn, "CHUNK_ELEMENTS", 300)        # many chunks, some cut in an image
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a, grad = _pair((6, 12, 20, 20), torch.float64, torch.contiguous_format)
        b = local_response_norm(a, groups=2)
        (da,) = torch.autograd.grad(b, a, grad)
    finally:
        torch.set_num_threads(threads)
    ref = local_response_norm_reference(a, groups=2)
    (dref,) = torch.autograd.grad(ref, a, grad)
    torch.testing.assert_close(b, ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(da, dref, rtol=1e-10, atol=1e-14)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads Linux's memory map")
def test_the_openmp_build_shares_pytorchs_openmp_runtime():
    """Two OpenMP runtimes in one process would each start a team of threads on the same cores."""
    if not lrn_cpu.openmp():
        pytest.skip("this build has no OpenMP")
    with open("/proc/self/maps") as maps:
        runtimes = {line.split()[-1] for line in maps if "libgomp" in line or "libomp" in line}
    assert len(runtimes) == 1, runtimes

"""LRN (§3.3) against a float64 transcription of the paper's formula."""
import pytest
import torch

from alexnet import AlexNetError, LocalResponseNorm
from alexnet.lrn import local_response_norm, local_response_norm_reference


def paper_lrn(a, n=5, alpha=1e-4, beta=0.75, k=2.0):
    """b^i = a^i / (k + alpha * sum_{j=max(0,i-n/2)}^{min(N-1,i+n/2)} (a^j)^2)^beta, looped over i."""
    N = a.shape[1]
    b = torch.empty_like(a)
    for i in range(N):
        lo, hi = max(0, i - n // 2), min(N - 1, i + n // 2)
        b[:, i] = a[:, i] / (k + alpha * (a[:, lo:hi + 1] ** 2).sum(dim=1)) ** beta
    return b


@pytest.fixture(params=["kernel", "analytic"])
def cpu_path(request):
    """A CPU test runs on both CPU paths: the C loop and the chunks in PyTorch operations."""
    from alexnet.kernels import lrn_cpu
    from alexnet.lrn import use_implementation

    if request.param == "kernel" and not lrn_cpu.available():
        pytest.skip("no C compiler here: the C loop is not built")
    with use_implementation(request.param):
        yield request.param


def activations(*shape, seed=0):
    # ReLU outputs at the scale of conv1 on raw pixels, where the denominator is far from k^beta
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * 80).relu()


@pytest.mark.parametrize("n", [1, 3, 5, 7])
@pytest.mark.parametrize("channels", [5, 8, 13])
def test_matches_the_papers_formula(n, channels):
    a = activations(2, channels, 4, 3)
    b = LocalResponseNorm(size=n)(a)
    ref = paper_lrn(a, n=n)
    torch.testing.assert_close(b, ref, rtol=1e-12, atol=0)
    # the first and last channels see a clipped window; check them on their own as well
    torch.testing.assert_close(b[:, [0, -1]], ref[:, [0, -1]], rtol=1e-12, atol=0)


def test_the_normalisation_is_not_negligible_at_this_scale():
    a = activations(2, 16, 4, 4)
    ratio = (LocalResponseNorm()(a) / a)[a > 0]
    assert ratio.max() <= 2 ** -0.75 + 1e-12       # k = 2 alone divides by 2^0.75
    assert ratio.min() < 0.5 and ratio.std() > 0.03  # and the neighbours' activity matters


def test_alpha_is_on_the_sum_not_the_mean():
    """PyTorch's module divides alpha by n: with alpha=1e-4 it is the paper's formula at 2e-5."""
    a = activations(1, 12, 3, 3)
    torch_module = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    torch.testing.assert_close(torch_module(a), paper_lrn(a, alpha=2e-5), rtol=1e-12, atol=0)
    assert (LocalResponseNorm(alpha=1e-4)(a) - torch_module(a)).abs().max() > 1e-3
    torch.testing.assert_close(LocalResponseNorm(alpha=2e-5)(a), torch_module(a), rtol=1e-12, atol=0)


def test_groups_normalise_each_half_on_its_own():
    a = activations(2, 10, 3, 3)
    b = LocalResponseNorm(groups=2)(a)
    ref = torch.cat([paper_lrn(h) for h in a.chunk(2, dim=1)], dim=1)
    torch.testing.assert_close(b, ref, rtol=1e-12, atol=0)
    # channels 4 and 5 straddle the boundary: without groups they see each other
    assert not torch.allclose(LocalResponseNorm()(a)[:, 4:6], b[:, 4:6])


def test_float32_and_channels_last():
    a = activations(2, 96, 7, 7).float().contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(LocalResponseNorm()(a), paper_lrn(a.double()).float(), rtol=1e-5, atol=1e-5)


def test_gradient_matches_the_formula():
    a = activations(1, 7, 2, 2).requires_grad_()
    torch.autograd.gradcheck(lambda x: LocalResponseNorm(size=5)(x), (a,))
    a2 = a.detach().clone().requires_grad_()
    LocalResponseNorm()(a).sum().backward()
    paper_lrn(a2).sum().backward()
    torch.testing.assert_close(a.grad, a2.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("kwargs,message", [
    (dict(size=4), "LRN size n=4 must be a positive odd integer"),
    (dict(size=0), "LRN size n=0 must be a positive odd integer"),
    (dict(size=5.0), "LRN size n=5.0 must be a positive odd integer"),
    (dict(groups=0), "LRN groups=0 must be a positive integer"),
    (dict(alpha=-1e-4), "LRN alpha=-0.0001 must be a finite number >= 0"),
    (dict(beta=float("nan")), "LRN beta=nan must be a finite number >= 0"),
    (dict(k=float("inf")), "LRN k=inf must be a finite number >= 0"),
    (dict(k=0.0), "LRN k=0 divides by zero"),
])
def test_bad_size(kwargs, message):
    with pytest.raises(AlexNetError, match=message):
        LocalResponseNorm(**kwargs)


def test_bad_input():
    with pytest.raises(AlexNetError, match=r"groups=2 needs the channel count to divide evenly, got 5"):
        local_response_norm_reference(torch.ones(1, 5, 2, 2), groups=2)
    with pytest.raises(AlexNetError, match=r"expects a 4-d \(N, C, H, W\) tensor, got shape \(5, 2\)"):
        LocalResponseNorm()(torch.ones(5, 2))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_cpu_path_forward_and_gradient_match_the_reference(cpu_path, channels_last, groups, size):
    """The CPU path (analytic gradient, chunk by chunk) against autograd through the equation,
    in float64, with chunks of one image and a last chunk of another size."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    a = activations(5, 12, 4, 3).contiguous(memory_format=layout).requires_grad_()
    grad = torch.randn(5, 12, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    b = local_response_norm(a, size, groups=groups)
    ref = local_response_norm_reference(a, size, groups=groups)
    assert b.is_contiguous(memory_format=layout)
    torch.testing.assert_close(b, ref, rtol=1e-12, atol=0)
    (da,), (dref,) = (torch.autograd.grad(y, a, grad) for y in (b, ref))
    torch.testing.assert_close(da, dref, rtol=1e-10, atol=1e-14)


def test_cpu_path_chunks_do_not_change_the_result(cpu_path, monkeypatch):
    import alexnet.lrn as lrn

    a = activations(7, 10, 3, 3).requires_grad_()
    whole = torch.autograd.grad(local_response_norm(a, groups=2).square().sum(), a)[0]
    monkeypatch.setattr(lrn, "CHUNK_ELEMENTS", 2 * 10 * 3 * 3)    # chunks of 2, 2, 2 and 1 images
    chunked = torch.autograd.grad(local_response_norm(a, groups=2).square().sum(), a)[0]
    torch.testing.assert_close(chunked, whole, rtol=1e-13, atol=0)


def test_other_strides_are_accepted(cpu_path):
    a = activations(3, 8, 5, 4)[:, :, 1:, ::2]                     # neither NCHW nor NHWC
    torch.testing.assert_close(local_response_norm(a), paper_lrn(a), rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("value", [300.0, 3000.0])
def test_half_precision_computes_in_float32_inside(cpu_path, dtype, value):
    """300² overflows float16 (max 65504): squaring in the storage dtype would give b = 0."""
    a = torch.full((2, 8, 3, 3), value, dtype=dtype, requires_grad=True)
    b = LocalResponseNorm()(a)
    assert b.dtype == dtype and (b > 0).all()
    torch.testing.assert_close(b.double(), paper_lrn(a.detach().double()), rtol=1e-2, atol=0)
    grad = torch.ones_like(a)
    (got,) = torch.autograd.grad(b, a, grad)
    x = a.detach().double().requires_grad_()
    (expected,) = torch.autograd.grad(paper_lrn(x), x, grad.double())
    assert got.dtype == dtype and torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), expected, rtol=2e-2, atol=1e-5)


def test_half_precision_gradient_matches_float64(cpu_path):
    a16 = activations(2, 8, 3, 3).clamp_max(500).to(torch.bfloat16).requires_grad_()
    grad = torch.randn(2, 8, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x = a16.detach().double().requires_grad_()
    (expected,) = torch.autograd.grad(paper_lrn(x), x, grad)
    (got,) = torch.autograd.grad(LocalResponseNorm()(a16), a16, grad.to(torch.bfloat16))
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.double(), expected, rtol=2e-2, atol=2e-3)


def test_paper_constants_are_defined_once_and_read_only():
    """§3.3: k = 2, n = 5, α = 10⁻⁴, β = 0.75, the defaults of every LRN here."""
    import inspect

    from alexnet import PAPER_LRN, analysis

    assert dict(PAPER_LRN) == {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}
    with pytest.raises(TypeError):
        PAPER_LRN["alpha"] = 1e-3
    norm = LocalResponseNorm()
    assert {name: getattr(norm, name) for name in PAPER_LRN} == dict(PAPER_LRN)
    for function in (local_response_norm, local_response_norm_reference):
        defaults = inspect.signature(function).parameters
        assert {name: defaults[name].default for name in PAPER_LRN} == dict(PAPER_LRN)
    for function in (analysis.lrn_response, analysis.lrn_maps):
        defaults = inspect.signature(function).parameters
        assert [defaults[name].default for name in ("n", "alpha", "beta", "k")] == \
            [PAPER_LRN[name] for name in ("size", "alpha", "beta", "k")]


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("channels_last", [False, True])
def test_chunks_on_helper_threads_match_the_reference(cpu_path, monkeypatch, two_threads, channels_last):
    """With two threads the chunks (here cut inside an image as well) run on the helper threads,
    each taking the next chunk: the result is still the equation's, and the caller's thread count
    is unchanged."""
    import alexnet.lrn as lrn

    monkeypatch.setattr(lrn, "CHUNK_ELEMENTS", 50)           # 6·12·... images cut in pieces
    layout = torch.channels_last if channels_last else torch.contiguous_format
    a = activations(6, 12, 5, 4).contiguous(memory_format=layout).requires_grad_()
    grad = torch.randn(6, 12, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    plan = lrn._Plan(a, 2)
    assert len(plan.pieces) > 2 and any(p[3] < 20 for p in plan.pieces)   # cut between positions
    b = local_response_norm(a, groups=2)
    torch.testing.assert_close(b, local_response_norm_reference(a, groups=2), rtol=1e-12, atol=0)
    (da,) = torch.autograd.grad(b, a, grad)
    (dref,) = torch.autograd.grad(local_response_norm_reference(a, groups=2), a, grad)
    torch.testing.assert_close(da, dref, rtol=1e-10, atol=1e-14)
    assert torch.get_num_threads() == 2
    if not (cpu_path == "kernel" and lrn._one_call()):       # else one OpenMP region did it
        assert lrn._TEAM["team"].usable


def test_an_error_on_a_helper_thread_reaches_the_caller(two_threads):
    import alexnet.lrn as lrn

    def work(i, buffers):
        if i == 3:
            raise ValueError("chunk 3")

    with pytest.raises(ValueError, match="chunk 3"):
        lrn._run(work, 8)


def test_chunk_size_follows_the_l2_cache(monkeypatch):
    import alexnet.lrn as lrn
    import alexnet.runtime as runtime

    for l2 in (512 << 10, 2 << 20):
        monkeypatch.setattr(runtime, "cpu_caches", lambda l2=l2: {"L2": l2})
        assert lrn.chunk_elements(torch.float32) == l2 // 8
        assert lrn.chunk_elements(torch.float64) == l2 // 16


def test_use_implementation_chooses_the_path():
    from alexnet.lrn import use_implementation

    a = activations(2, 8, 3, 3).requires_grad_()
    assert type(local_response_norm(a).grad_fn).__name__ == "_AnalyticLRNBackward"
    with use_implementation("reference"):
        b = local_response_norm(a)
        assert type(b.grad_fn).__name__ != "_AnalyticLRNBackward"
    torch.testing.assert_close(b, local_response_norm(a), rtol=1e-12, atol=0)
    assert type(local_response_norm(a).grad_fn).__name__ == "_AnalyticLRNBackward"
    with pytest.raises(AlexNetError, match="LRN implementation 'fast' is not one of auto"):
        with use_implementation("fast"):
            pass

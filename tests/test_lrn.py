"""LRN (§3.3) against a float64 transcription of the paper's formula."""
import pytest
import torch

from alexnet import AlexNetError, LocalResponseNorm
from alexnet.lrn import local_response_norm_reference


def paper_lrn(a, n=5, alpha=1e-4, beta=0.75, k=2.0):
    """b^i = a^i / (k + alpha * sum_{j=max(0,i-n/2)}^{min(N-1,i+n/2)} (a^j)^2)^beta, looped over i."""
    N = a.shape[1]
    b = torch.empty_like(a)
    for i in range(N):
        lo, hi = max(0, i - n // 2), min(N - 1, i + n // 2)
        b[:, i] = a[:, i] / (k + alpha * (a[:, lo:hi + 1] ** 2).sum(dim=1)) ** beta
    return b


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
    (dict(size=4), "LRN size n=4 must be a positive odd number"),
    (dict(size=0), "LRN size n=0 must be a positive odd number"),
])
def test_bad_size(kwargs, message):
    with pytest.raises(AlexNetError, match=message):
        LocalResponseNorm(**kwargs)


def test_bad_input():
    with pytest.raises(AlexNetError, match=r"groups=2 needs the channel count to divide evenly, got 5"):
        local_response_norm_reference(torch.ones(1, 5, 2, 2), groups=2)
    with pytest.raises(AlexNetError, match=r"expects a 4-d \(N, C, H, W\) tensor, got shape \(5, 2\)"):
        LocalResponseNorm()(torch.ones(5, 2))

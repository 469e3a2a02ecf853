import pytest
import torch

from harmony_model.flow import FlowMatchEulerSampler, guide, noisy, shift_sigmas


def test_sigmas_are_shifted_linspace_ending_at_zero():
    s = FlowMatchEulerSampler(shift=5.0).sigmas(4)
    base = torch.tensor([1.0, 0.75, 0.5, 0.25])
    expected = 5 * base / (1 + 4 * base)
    torch.testing.assert_close(s, torch.cat([expected, torch.zeros(1)]))
    assert s[0] == 1.0 and s[-1] == 0.0


def test_sigmas_match_diffusers_flow_match_scheduler():
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.FlowMatchEulerDiscreteScheduler(shift=5.0)
    n = 40
    sched.set_timesteps(sigmas=torch.linspace(1, 0, n + 1)[:-1].numpy())
    ours = FlowMatchEulerSampler(shift=5.0)
    torch.testing.assert_close(ours.sigmas(n), sched.sigmas.float(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.timesteps(n), sched.timesteps.float(), rtol=1e-5, atol=1e-3)


def test_euler_with_the_true_velocity_lands_on_the_data():
    """On a straight flow-matching path the velocity eps - x0 is constant: Euler is exact."""
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    sampler = FlowMatchEulerSampler(shift=5.0)
    sigmas = sampler.sigmas(7).tolist()
    x = eps.clone()
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        torch.testing.assert_close(x, noisy(x0, eps, torch.full((3,), s)))
        x = sampler.step(eps - x0, x, s, s_next)
    torch.testing.assert_close(x, x0)


def test_step_is_pure():
    x, v = torch.ones(2), torch.full((2,), 2.0)
    sampler = FlowMatchEulerSampler()
    assert torch.equal(sampler.step(v, x, 0.5, 0.25), sampler.step(v, x, 0.5, 0.25))


def test_guide_formula():
    pos, neg = torch.tensor([2.0]), torch.tensor([0.5])
    assert guide(pos, neg, 3.0).item() == pytest.approx(0.5 + 3 * 1.5)
    assert torch.equal(guide(pos, neg, 1.0), pos)
    assert shift_sigmas(torch.tensor(0.5), 1.0).item() == 0.5

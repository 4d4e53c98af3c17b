"""CPU speed paths: oneDNN dense layers (same results as torch.nn.Linear) and the thread budget."""

import copy

import pytest
import torch

from skillmimic import threads
from skillmimic.policy import network


@pytest.mark.skipif(not network.ONEDNN_AVAILABLE, reason="this torch build has no oneDNN linear")
def test_onednn_linear_matches_torch_linear(monkeypatch):
    monkeypatch.setattr(network, "ONEDNN_LINEAR", True)  # opt-in (SKILLMIMIC_ONEDNN_LINEAR=1)
    torch.manual_seed(0)
    ref = torch.nn.Sequential(
        torch.nn.Linear(882, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
    )
    fast = copy.deepcopy(ref)
    assert network.use_onednn_linear(fast) == 3 and isinstance(fast[0], network.OneDNNLinear)
    assert list(fast.state_dict()) == list(ref.state_dict())
    x = torch.randn(128, 882, requires_grad=True)
    outs = []
    for m in (ref, fast):
        m.zero_grad()
        xi = x.detach().clone().requires_grad_()
        y = m(xi)
        (y.square().sum() + y.sum()).backward()
        outs.append((y.detach(), xi.grad, [p.grad for p in m.parameters()]))
    (ya, gxa, gpa), (yb, gxb, gpb) = outs
    torch.testing.assert_close(yb, ya, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gxb, gxa, rtol=1e-4, atol=1e-6)
    for a, b in zip(gpa, gpb, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    # leading dims, no-grad inference, and float64 (falls back to torch) all work
    torch.testing.assert_close(
        fast(x.detach().reshape(2, 64, 882)), ref(x.detach().reshape(2, 64, 882)), rtol=1e-5, atol=1e-5
    )
    with torch.no_grad():
        torch.testing.assert_close(fast(x[:3]), ref(x[:3]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(copy.deepcopy(fast).double()(x.double()), copy.deepcopy(ref).double()(x.double()))


def test_actor_critic_uses_onednn_layers():
    from rl_games.algos_torch import model_builder

    from skillmimic.config import PPOConfig

    network.register()
    net = (
        model_builder.ModelBuilder()
        .load(network.network_params(PPOConfig(units=[32, 16])))
        .build({"actions_num": 156, "input_shape": (882,), "num_seqs": 1, "value_size": 1})
    )
    kinds = {type(m) for m in net.modules() if isinstance(m, torch.nn.Linear)}
    assert kinds == ({network.OneDNNLinear} if network.ONEDNN_LINEAR else {torch.nn.Linear})


def test_configure_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv(threads.TORCH_THREADS_ENV, raising=False)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(threads, "cpu_cores", lambda: 2)
        monkeypatch.setattr("skillmimic.threads.OPENMP_WAITS_PASSIVELY", False)
        assert threads.configure_threads("cpu", 0) == 2  # MuJoCo C: one worker per core
        assert torch.get_num_threads() == 1  # torch: one thread on a small machine while OpenMP spins
        monkeypatch.setattr("skillmimic.threads.OPENMP_WAITS_PASSIVELY", True)
        threads.configure_threads("cpu", 0)
        assert torch.get_num_threads() == 2  # one per core when it waits passively
        assert threads.configure_threads("cpu", 3) == 3
        monkeypatch.setenv(threads.TORCH_THREADS_ENV, "2")
        threads.configure_threads("cpu", 0)
        assert torch.get_num_threads() == 2 and threads.configured() == ("cpu", 2, 2)
        torch.set_num_threads(5)
        assert threads.configure_threads("cuda", 0) == 2 and torch.get_num_threads() == 5  # CUDA: left alone
        assert threads.default_torch_threads(1, passive=True) == 1 and threads.default_torch_threads(4, False) == 1
        assert threads.default_torch_threads(2, passive=True) == 2 and threads.default_torch_threads(16, True) == 8
    finally:
        torch.set_num_threads(before)

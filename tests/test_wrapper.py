"""DILWrapper contract: buffers, frozen parameters, param groups, schedulers, bad input, resume."""

from __future__ import annotations

import copy
import gc
import re
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import dil_optim
from dil_optim import DILOptimizer, DILWrapper
from toys import image_batches, linear_problem, small_convnet

ALL = ["erm", "sf", "pf", "ss", "ps"]
SECOND = {"ss", "ps"}


def _snapshot(model, opt, dil):
    return (
        copy.deepcopy(model.state_dict()),
        copy.deepcopy(opt.state_dict()),
        copy.deepcopy(dil.state_dict()),
    )


def _assert_same(a, b):
    for x, y in zip(a, b):
        assert _equal(x, y)


def _equal(x, y) -> bool:
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(_equal(a, b) for a, b in zip(x, y))
    return x == y


def _setup(variant, batchnorm=True, **kw):
    torch.manual_seed(0)
    model = small_convnet(batchnorm=batchnorm)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=1e-3, **kw)
    batches, query = image_batches()
    return model, opt, dil, batches, (query if variant in SECOND else None)


def test_alias_and_public_names():
    assert DILOptimizer is DILWrapper
    assert set(dil_optim.__all__) >= {"DILWrapper", "DILOptimizer", "StepStats"}


@pytest.mark.parametrize("variant", ALL)
def test_batchnorm_buffers_updated_like_ordinary_training(variant):
    model, opt, dil, batches, query = _setup(variant)
    bn = model[1]
    before = bn.running_mean.clone()
    dil.step(batches, query)
    # ERM and second order: one real forward per step; first order: one per inner step.
    expected = {"erm": 1, "ss": 1, "ps": 1, "sf": len(batches), "pf": 2}[variant]
    assert bn.num_batches_tracked.item() == expected
    assert not torch.equal(bn.running_mean, before)


@pytest.mark.parametrize("variant", ALL)
def test_frozen_parameters_stay_frozen(variant):
    model, opt, dil, batches, query = _setup(variant, batchnorm=False)
    model[0].weight.requires_grad_(False)
    dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=1e-3)
    frozen = model[0].weight.detach().clone()
    trained = model[2].weight.detach().clone()
    for _ in range(2):
        dil.step(batches, query)
    assert torch.equal(model[0].weight, frozen)
    assert not torch.equal(model[2].weight, trained)


@pytest.mark.parametrize("variant", ALL)
def test_two_param_groups_and_a_scheduler(variant):
    torch.manual_seed(0)
    model = small_convnet()
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.1},
                           {"params": model[2].parameters(), "lr": 0.0}])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5**epoch)
    dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=1e-3)
    batches, query = image_batches()
    query = query if variant in SECOND else None
    for expected_lr in (0.1, 0.05):
        w0, w2 = model[0].weight.detach().clone(), model[2].weight.detach().clone()
        dil.step(batches, query)
        torch.testing.assert_close(model[0].weight, w0 - expected_lr * model[0].weight.grad)
        assert torch.equal(model[2].weight, w2)  # lr 0 group untouched
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)


@pytest.mark.parametrize("variant", ALL)
def test_memory_stays_flat(variant):
    model, opt, dil, batches, query = _setup(variant)

    def count():
        gc.collect()
        with warnings.catch_warnings():  # isinstance() on every object touches deprecated torch attributes
            warnings.simplefilter("ignore")
            return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))

    for _ in range(2):  # the first steps allocate the snapshot buffers kept across steps
        dil.step(batches, query)
    n0 = count()
    for _ in range(5):
        dil.step(batches, query)
    assert count() == n0


def _bad_inputs(variant, batches, query):
    x, y = batches[0]
    cases = {
        "empty": ([], query),
        "not a sequence": (x, query),
        "mismatched shapes": ([batches[0], (x[:, :, :4], y[:, :, :4])], query),
        "batch size": ([(x, y[:1])], query),
        "integer dtype": ([(x, (y * 255).long())], query),
    }
    if variant in SECOND:
        cases["missing query"] = (batches, None)
        cases["query shape"] = (batches, (query[0][:, :, :4], query[1][:, :, :4]))
    return cases


@pytest.mark.parametrize("variant", ALL)
def test_bad_input_raises_and_changes_nothing(variant):
    model, opt, dil, batches, query = _setup(variant)
    dil.step(batches, query)  # non-empty optimizer state
    before = _snapshot(model, opt, dil)
    for name, (bs, q) in _bad_inputs(variant, batches, query).items():
        with pytest.raises((ValueError, TypeError)) as info:
            dil.step(bs, q)
        assert str(info.value), name
        _assert_same(before, _snapshot(model, opt, dil))


@pytest.mark.parametrize("variant", ALL)
def test_non_finite_loss_rolls_everything_back(variant):
    model, opt, dil, batches, query = _setup(variant)
    dil.step(batches, query)
    before = _snapshot(model, opt, dil)
    poisoned = list(batches)
    poisoned[1] = (batches[1][0], torch.full_like(batches[1][1], float("nan")))
    with pytest.raises(FloatingPointError, match="non-finite"):
        dil.step(poisoned, query)
    _assert_same(before, _snapshot(model, opt, dil))
    dil.step(batches, query)  # and it keeps working


def test_unknown_variant_and_options():
    model = small_convnet()
    opt = torch.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="unknown variant 'maml'"):
        DILWrapper(model, opt, variant="maml")
    with pytest.raises(ValueError, match="backend"):
        DILWrapper(model, opt, variant="ps", backend="jax")
    with pytest.raises(ValueError, match="virtual_step"):
        DILWrapper(model, opt, variant="ps", virtual_step="rmsprop")
    with pytest.raises(ValueError, match="inner_steps"):
        DILWrapper(model, opt, variant="ps", inner_steps=3)
    with pytest.raises(ValueError, match="inner_lr"):
        DILWrapper(model, opt, variant="sf", inner_lr=0.0)
    with pytest.raises(TypeError, match="optimizer"):
        DILWrapper(model, "adam", variant="sf")
    assert DILWrapper(model, opt, variant="DIL_ps").variant == "ps"


def test_missing_higher_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "higher", None)
    monkeypatch.delitem(sys.modules, "dil_optim.core.backends.higher", raising=False)
    model = small_convnet()
    with pytest.raises(ImportError, match=r"dil-optim\[higher\]"):
        DILWrapper(model, torch.optim.Adam(model.parameters()), variant="ps", backend="higher")


@pytest.mark.parametrize("variant", ALL)
def test_resume_from_state_dict_continues_exactly(variant, tmp_path):
    def fresh():
        model, opt, dil, _, _ = _setup(variant)
        return model, opt, dil

    def data(step):
        batches, query = image_batches(seed=step)
        return batches, (query if variant in SECOND else None)

    model, opt, dil = fresh()
    for s in range(4):
        dil.step(*data(s))
    straight = copy.deepcopy(model.state_dict())

    model, opt, dil = fresh()
    for s in range(2):
        dil.step(*data(s))
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "dil": dil.state_dict()}, path)
    model, opt, dil = fresh()
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["opt"])
    dil.load_state_dict(ckpt["dil"])
    for s in range(2, 4):
        dil.step(*data(s))
    for k, v in straight.items():
        assert torch.equal(model.state_dict()[k], v), k


def test_state_for_another_variant_is_refused():
    _, _, sf, _, _ = _setup("sf")
    _, _, pf, _, _ = _setup("pf")
    with pytest.raises(ValueError, match="variant"):
        pf.load_state_dict(sf.state_dict())


def test_readme_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"## Three lines in your training loop\s+```python\n(.*?)```", readme, re.S)
    assert block, "README has no three-line example"
    exec(compile(block.group(1), "README.md", "exec"), {})


def test_query_ignored_with_warning_for_first_order(caplog):
    model, batches, query = linear_problem()
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), "sf")
    with caplog.at_level("WARNING"):
        dil.step(batches, query)
    assert "does not use query_batch" in caplog.text


def test_custom_forward_fn_with_dict_batches():
    model, batches, query = linear_problem()
    dict_batches = [{"x": x, "y": y} for x, y in batches]
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), "ps",
                     forward_fn=lambda m, b: (m(b["x"]), b["y"]))
    ref = copy.deepcopy(model)
    DILWrapper(ref, torch.optim.SGD(ref.parameters(), lr=0.1), nn.MSELoss(), "ps").step(batches, query)
    dil.step(dict_batches, {"x": query[0], "y": query[1]})
    torch.testing.assert_close(model.weight, ref.weight, rtol=0, atol=1e-12)


def test_stats_stay_on_the_device_until_read_without_finite_check():
    model, batches, _ = linear_problem()
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), "sf", check_finite=False)
    stats = dil.step(batches)
    assert isinstance(stats._values, torch.Tensor)  # nothing read yet: no device sync in step()
    assert len(stats.confounder_losses) == len(batches) and stats.grad_norm > 0
    assert isinstance(stats._values, list)


def test_design_contract_example():
    from dil_optim import ConfounderSet, GaussianNoise

    torch.manual_seed(0)
    model = small_convnet()
    confounders = ConfounderSet([GaussianNoise(s) for s in (5, 10, 15, 20)])
    dil = DILWrapper(model, torch.optim.Adam(model.parameters(), lr=1e-4), loss_fn=nn.L1Loss(), variant="sf")
    clean = torch.rand(2, 3, 8, 8)
    stats = dil.step(confounder_batches=confounders(clean), query_batch=None)
    assert len(stats.confounder_losses) == 4


@pytest.mark.parametrize("variant", ["sf", "pf"])
def test_exception_mid_step_rolls_back_inner_state_without_finite_check(variant):
    model, opt, dil, batches, query = _setup(variant, check_finite=False)
    dil.step(batches, query)
    before = _snapshot(model, opt, dil)
    calls = {"n": 0}

    def failing_loss(out, target):
        calls["n"] += 1
        if calls["n"] == 2:  # after the first inner step has changed the inner state
            raise RuntimeError("loss exploded")
        return nn.functional.l1_loss(out, target)

    dil.loss_fn = failing_loss
    # sf: two confounders, one inner step each; pf: one confounder, two inner steps.
    with pytest.raises(RuntimeError, match="loss exploded"):
        dil.step(batches[:2] if variant == "sf" else batches[:1])
    assert calls["n"] == 2
    _assert_same(before, _snapshot(model, opt, dil))

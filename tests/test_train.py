"""dil_optim.training.train: batch sources per variant, compute accounting, atomic checkpoints, exact resume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from dil_optim import DILWrapper
from dil_optim.training import checkpoint
from dil_optim.augment import ConfounderSet, GaussianNoise
from dil_optim.data import PatchSampler
from dil_optim.training.train import (CHECKPOINT_FORMAT, ConfounderBatchSource, batch_mode, ge_per_step,
                             load_checkpoint, save_checkpoint, train)

SIGMAS = (5, 10, 15, 20)


def _images() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(123)
    return [torch.rand(3, 20 + 3 * i, 24, generator=g) for i in range(3)]


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 3, 3, padding=1))


def _setup(variant: str, seed: int = 0):
    torch.manual_seed(seed)
    model = _net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=1e-2,
                     generator=torch.Generator().manual_seed(seed + 1))
    sampler = PatchSampler(_images(), 8, 4, generator=torch.Generator().manual_seed(seed + 2))
    cs = ConfounderSet([GaussianNoise(s) for s in SIGMAS])
    source = ConfounderBatchSource(sampler, cs, batch_mode(variant), seed=seed + 3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 5], gamma=0.5)
    return dil, source, sched


def _params(dil: DILWrapper) -> list[torch.Tensor]:
    return [p.detach().clone() for p in dil.model.parameters()]


def test_ge_per_step_counts_batches_of_b():
    assert [ge_per_step(v, 4) for v in ("erm", "sf", "pf", "ps", "ss")] == [1, 4, 8, 5, 8]
    assert ge_per_step("DIL_sf", 3, inner_steps=2) == 6
    assert ge_per_step("pf", 3, inner_steps=1) == 3
    with pytest.raises(ValueError, match="n_confounders"):
        ge_per_step("sf", 0)
    with pytest.raises(ValueError, match="unknown variant"):
        ge_per_step("maml", 4)


def test_batch_source_shapes_per_mode():
    for variant, n_batches, has_query in (("erm", 1, False), ("sf", 4, False), ("pf", 4, False),
                                          ("ss", 4, True), ("ps", 4, True)):
        _, source, _ = _setup(variant)
        batches, query = source.next()
        if variant == "pf":  # a callable drawing fresh batches for each inner step
            batches = batches()
        assert len(batches) == n_batches and (query is not None) == has_query
        for x, y in batches + ([query] if has_query else []):
            assert x.shape == y.shape == (4, 3, 8, 8)
            assert 0 <= float(x.min()) and float(x.max()) <= 1
    # DIL pairs are counterfactual: one clean batch, distorted by each sigma in turn
    _, source, _ = _setup("sf")
    batches, _ = source.next()
    assert all(b[1] is batches[0][1] for b in batches)
    noise_std = [float((x - y).std()) * 255 for x, y in batches]
    assert noise_std == sorted(noise_std)
    # the query batch of ss/ps comes from a second, different clean batch
    _, source, _ = _setup("ps")
    batches, query = source.next()
    assert not torch.equal(query[1], batches[0][1])


def test_pf_source_draws_new_content_for_each_inner_step():
    assert batch_mode("DIL_pf") == "fresh-confounders"
    dil, source, _ = _setup("pf")
    draw, query = source.next()
    assert callable(draw) and query is None
    a, b = draw(), draw()
    assert all(x[1] is a[0][1] for x in a)  # one draw: n counterfactual pairs of one clean batch
    assert not torch.equal(a[0][1], b[0][1])  # the next inner step: new content
    drawn = []
    source = ConfounderBatchSource(source.sampler, source.confounders, "fresh-confounders", seed=0)
    orig = source._draw_fresh
    source._draw_fresh = lambda: drawn.append(1) or orig()  # type: ignore[method-assign]
    train(dil, source, steps=2)
    assert len(drawn) == 2 * dil.inner_steps == 2 * ge_per_step("pf", len(SIGMAS)) // len(SIGMAS)


def test_erm_batch_mixes_levels_per_sample():
    sampler = PatchSampler([torch.full((3, 64, 64), 0.5)], 32, 64, generator=torch.Generator().manual_seed(0))
    cs = ConfounderSet([GaussianNoise(s) for s in SIGMAS])
    (pair,), _ = ConfounderBatchSource(sampler, cs, "mixed", seed=0).next()
    stds = ((pair[0] - pair[1]).flatten(1).std(dim=1) * 255).tolist()
    levels = [min(SIGMAS, key=lambda s: abs(s - v)) for v in stds]
    assert all(abs(v - lv) < 1.0 for v, lv in zip(stds, levels))  # each sample is one pure level
    assert set(levels) == set(SIGMAS)  # 64 samples: all four levels occur


def test_batch_source_rejects_bad_mode_and_state():
    sampler = PatchSampler(_images(), 8, 4)
    cs = ConfounderSet([GaussianNoise(5)])
    with pytest.raises(ValueError, match="mode"):
        ConfounderBatchSource(sampler, cs, "serial")
    a = ConfounderBatchSource(sampler, cs, "mixed")
    b = ConfounderBatchSource(sampler, cs, "confounders")
    with pytest.raises(ValueError, match="mode 'mixed'"):
        b.load_state_dict(a.state_dict())


@pytest.mark.parametrize("variant", ["erm", "sf", "pf", "ss", "ps"])
def test_kill_and_resume_gives_bitwise_the_same_run(tmp_path: Path, variant: str):
    k = 3
    dil, source, sched = _setup(variant)
    full = train(dil, source, steps=2 * k, scheduler=sched)
    reference = _params(dil)

    ckpt = tmp_path / "run.pt"
    dil, source, sched = _setup(variant)

    def kill(step: int, stats) -> None:
        if step == k + 1:  # dies one step after the checkpoint at k: that step is lost
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(dil, source, steps=2 * k, scheduler=sched, checkpoint_path=ckpt, checkpoint_every=k, callback=kill)
    assert load_checkpoint(ckpt)["step"] == k

    dil, source, sched = _setup(variant, seed=0)
    torch.manual_seed(999)  # the global RNG is restored from the checkpoint too
    resumed = train(dil, source, steps=2 * k, scheduler=sched, checkpoint_path=ckpt, resume=True)
    assert resumed.resumed_from == k and resumed.step == 2 * k
    assert resumed.losses == full.losses  # exact floats, the whole run's
    for a, b in zip(_params(dil), reference):
        assert torch.equal(a, b)
    assert dil.optimizer.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.25)
    assert load_checkpoint(ckpt)["step"] == 2 * k


def test_resume_without_checkpoint_starts_fresh_and_finished_run_is_a_no_op(tmp_path: Path):
    ckpt = tmp_path / "sub" / "run.pt"
    dil, source, _ = _setup("erm")
    res = train(dil, source, steps=2, checkpoint_path=ckpt, resume=True)
    assert res.resumed_from is None and res.step == 2 and ckpt.is_file()
    before = _params(dil)
    dil, source, _ = _setup("erm")
    again = train(dil, source, steps=2, checkpoint_path=ckpt, resume=True)
    assert again.resumed_from == 2 and again.losses == res.losses
    assert all(torch.equal(a, b) for a, b in zip(_params(dil), before))
    with pytest.raises(ValueError, match="past steps=1"):
        train(dil, source, steps=1, checkpoint_path=ckpt, resume=True)


def test_stateful_objects_travel_with_the_checkpoint(tmp_path: Path):
    class Log:
        def __init__(self):
            self.items: list[int] = []

        def state_dict(self):
            return {"items": list(self.items)}

        def load_state_dict(self, s):
            self.items = list(s["items"])

    ckpt = tmp_path / "run.pt"
    log = Log()
    dil, source, _ = _setup("sf")
    train(dil, source, steps=2, checkpoint_path=ckpt, callback=lambda s, st: log.items.append(s),
          stateful={"log": log})
    fresh = Log()
    dil, source, _ = _setup("sf")
    train(dil, source, steps=3, checkpoint_path=ckpt, resume=True, stateful={"log": fresh},
          callback=lambda s, st: fresh.items.append(s))
    assert fresh.items == [1, 2, 3]
    with pytest.raises(ValueError, match="no state for"):
        train(dil, source, steps=3, checkpoint_path=ckpt, resume=True, stateful={"other": Log()})


def test_checkpoint_is_atomic_and_weights_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "step": 1, "x": torch.ones(2)})
    assert load_checkpoint(path)["step"] == 1

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1  # the old file survives a failed write
    assert os.listdir(tmp_path) == ["c.pt"]  # and no temporary file is left behind

    checkpoint.save_checkpoint({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a dil_optim.train/1 checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save({"format": CHECKPOINT_FORMAT, "step": 3}, tmp_path / "plain.pt")  # no digest header
    with pytest.raises(checkpoint.CheckpointError, match="not a dil-optim checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    # weights_only=True: a pickled arbitrary object is refused even with a valid digest
    checkpoint.save_checkpoint({"format": CHECKPOINT_FORMAT, "obj": Path("x")}, tmp_path / "evil.pt")
    with pytest.raises(Exception):
        load_checkpoint(tmp_path / "evil.pt")


def test_train_validates_arguments(tmp_path: Path):
    dil, source, _ = _setup("erm")
    with pytest.raises(ValueError, match="steps"):
        train(dil, source, steps=-1)
    with pytest.raises(ValueError, match="checkpoint_path"):
        train(dil, source, steps=1, resume=True)
    with pytest.raises(ValueError, match="checkpoint_every"):
        train(dil, source, steps=1, checkpoint_every=-2)
    train(dil, source, steps=1, checkpoint_path=tmp_path / "a.pt")  # written without a scheduler
    dil, source, sched = _setup("erm")
    with pytest.raises(ValueError, match="LR scheduler"):
        train(dil, source, steps=2, scheduler=sched, checkpoint_path=tmp_path / "a.pt", resume=True)


def test_wall_time_excludes_callbacks():
    import time
    dil, source, _ = _setup("erm")
    res = train(dil, source, steps=2, callback=lambda s, st: time.sleep(0.3))
    assert 0 < res.wall_time_s < 0.3

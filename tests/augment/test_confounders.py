"""ConfounderSet and the paper's ready-made sets."""

from __future__ import annotations

import pytest
import torch

import dil_optim.augment as A

from ._helpers import gen, natural_batch


def _blur_set(content: str = "shared") -> A.ConfounderSet:
    return A.ConfounderSet([A.GaussianBlur(s) for s in (1.0, 2.0, 3.0)], content)


def test_shared_content_pairs() -> None:
    x = natural_batch(4, 32)
    cs = _blur_set()
    pairs = cs(x, gen(0))
    assert len(cs) == 3 and cs.names == ["blur1", "blur2", "blur3"]
    assert len(pairs) == 3
    for (deg, clean), s in zip(pairs, (1.0, 2.0, 3.0)):
        assert clean is x  # the same clean content for every confounder
        torch.testing.assert_close(deg, A.GaussianBlur(s)(x))


def test_shared_pairs_are_seeded() -> None:
    x = natural_batch(2, 32)
    cs = A.ConfounderSet([A.GaussianNoise(s) for s in (5, 10)])
    a, b, c = cs(x, gen(1)), cs(x, gen(1)), cs(x, gen(2))
    assert all(torch.equal(p[0], q[0]) for p, q in zip(a, b))
    assert not torch.equal(a[0][0], c[0][0])


def test_independent_content_from_chunks_and_lists() -> None:
    x = natural_batch(6, 32)
    cs = _blur_set("independent")
    pairs = cs(x, gen(0))
    for i, (deg, clean) in enumerate(pairs):
        assert torch.equal(clean, x[2 * i:2 * i + 2])
        torch.testing.assert_close(deg, A.GaussianBlur(float(i + 1))(clean))
    pairs = cs([x[:1], x[1:3], x[3:6]])
    assert [p[1].shape[0] for p in pairs] == [1, 2, 3]


def test_independent_content_errors() -> None:
    cs = _blur_set("independent")
    with pytest.raises(ValueError, match="3 equal chunks"):
        cs(natural_batch(4, 16))
    with pytest.raises(ValueError, match="3 clean batches"):
        cs([natural_batch(1, 16)] * 2)
    with pytest.raises(TypeError, match="tensor"):
        cs("clean")  # type: ignore[arg-type]


def test_shared_content_errors() -> None:
    cs = _blur_set()
    with pytest.raises(TypeError, match="one clean tensor"):
        cs([natural_batch(1, 16)] * 3)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        cs(torch.rand(3, 16, 16))


def test_construction_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        A.ConfounderSet([])
    with pytest.raises(ValueError, match="content"):
        A.ConfounderSet([A.GaussianNoise(5)], "mixed")
    with pytest.raises(ValueError, match="unique"):
        A.ConfounderSet([A.GaussianNoise(5), A.GaussianNoise(5)])
    with pytest.raises(TypeError, match="callables"):
        A.ConfounderSet([3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="names"):
        A.ConfounderSet([A.GaussianNoise(5)], names=["a", "b"])


def test_mapping_and_plain_callables() -> None:
    cs = A.ConfounderSet({"dark": lambda x, g=None: x * 0.5, "same": lambda x, g=None: x})
    x = natural_batch(2, 16)
    (d0, _), (d1, _) = cs(x)
    assert cs.names == ["dark", "same"]
    torch.testing.assert_close(d0, x * 0.5)
    assert "dark=" in repr(cs)


def test_sample_mixed_assigns_one_confounder_per_sample() -> None:
    x = natural_batch(4, 32, torch.float64).repeat(8, 1, 1, 1)  # 32 samples
    cs = _blur_set()
    deg, clean = cs.sample_mixed(x, gen(3))
    assert clean is x and deg.shape == x.shape
    outs = [A.GaussianBlur(s)(x) for s in (1.0, 2.0, 3.0)]
    which = []
    for i in range(32):
        hits = [k for k in range(3) if torch.allclose(deg[i], outs[k][i], atol=1e-12)]
        assert len(hits) == 1
        which.append(hits[0])
    assert set(which) == {0, 1, 2}
    deg2, _ = cs.sample_mixed(x, gen(3))
    assert torch.equal(deg, deg2)


def test_sample_mixed_draws_uniformly() -> None:
    cs = A.ConfounderSet({"a": lambda x, g=None: x * 0.0, "b": lambda x, g=None: x * 0.0 + 1.0})
    deg, _ = cs.sample_mixed(torch.full((2000, 1, 1, 1), 0.5), gen(4))
    assert abs(float(deg.mean()) - 0.5) < 0.05  # 2000 draws: s.e. 0.011


def test_sample_mixed_rejects_mismatched_output_sizes() -> None:
    cs = A.ConfounderSet([A.GaussianNoise(5), A.Downsample(2)])
    with pytest.raises(ValueError, match="different output shapes"):
        for s in range(10):
            cs.sample_mixed(natural_batch(8, 16), gen(s))


@pytest.mark.parametrize("task,n,unseen", [
    ("denoise", 4, ["awgn30", "awgn40", "awgn50"]),
    ("deblur", 4, ["blur4.2", "blur4.4", "blur4.6", "blur4.8", "blur5"]),
    ("hybrid", 3, ["mild", "moderate"]),
    ("realsr", 4, ["isp_noise_x4", "realesrgan_second_order"]),
    ("realsr2", 4, ["isp_noise_x4"]),
    ("realdenoise", 4, ["isp_nocfa"]),
    ("derain", 3, ["rain_storm"]),
])
def test_paper_confounders(task: str, n: int, unseen: list[str]) -> None:
    train, test = A.paper_confounders(task)
    assert len(train) == n and list(test) == unseen
    x = natural_batch(2, 32)
    pairs = train(x, gen(0))
    size = (8, 8) if task.startswith("realsr") else (32, 32)
    assert all(d.shape == (2, 3, *size) and c is x for d, c in pairs)
    for deg in test.values():
        assert deg(x, gen(1)).shape == (2, 3, *size)


def test_paper_sets_use_the_paper_values() -> None:
    denoise, unseen = A.paper_confounders("denoise")
    assert [d.sigma.low for d in denoise.degradations] == [5, 10, 15, 20]
    assert [d.sigma.low for d in unseen.values()] == [30, 40, 50]
    deblur, unseen = A.paper_confounders("deblur")
    assert [d.sigma.low for d in deblur.degradations] == [1, 2, 3, 4]
    assert [d.sigma.low for d in unseen.values()] == [4.2, 4.4, 4.6, 4.8, 5.0]
    hybrid, unseen = A.paper_confounders("hybrid")
    assert [d.level_sum for d in hybrid.degradations] == [(18, 18), (19, 19), (20, 20)]
    assert [d.level_sum for d in unseen.values()] == [(9, 11), (12, 17)]
    realdn, _ = A.paper_confounders("realdenoise")
    assert [d.pattern for d in realdn.degradations] == ["RGGB", "BGGR", "GRBG", "GBRG"]
    assert A.paper_confounders("realsr2")[0].degradations[0].order == 2
    assert len(A.paper_confounders("realsr", scale=2)[0](natural_batch(1, 16))[0][0][0, 0]) == 8


def test_paper_confounders_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        A.paper_confounders("desnow")


def test_pairs_feed_a_training_step() -> None:
    # what DILWrapper.step consumes: a list of (input, target) pairs of equal shapes
    model = torch.nn.Conv2d(3, 3, 3, padding=1)
    pairs = A.paper_confounders("denoise")[0](natural_batch(2, 16), gen(0))
    loss = sum(torch.nn.functional.l1_loss(model(d), c) for d, c in pairs)
    loss.backward()
    assert model.weight.grad is not None

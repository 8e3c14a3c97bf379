"""A catalogue of bad inputs: each gets a clear error (type and a message naming the problem) and
leaves everything as it was (parameters, optimizer state, wrapper state, files).

Sections: the API (DILWrapper construction, step, load_state_dict), data and augmentation, run
configuration, the command line (exit status 2, one line, no traceback), checkpoints.
"""

from __future__ import annotations

import copy
import hashlib
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from toys import image_batches, small_convnet

from dil_optim import DILWrapper
from dil_optim.cli import main
from dil_optim.training.checkpoint import MAGIC, CheckpointError, load_checkpoint, save_checkpoint
from dil_optim.training.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------- helpers
def _state(model: nn.Module, opt: torch.optim.Optimizer, dil: DILWrapper | None = None) -> dict:
    out = {"model": copy.deepcopy(model.state_dict()), "opt": copy.deepcopy(opt.state_dict())}
    if dil is not None:
        out["dil"] = copy.deepcopy(dil.state_dict())
    return out


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _wrapper(variant: str = "sf", **kw):
    torch.manual_seed(0)
    model = small_convnet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    dil = DILWrapper(model, opt, nn.L1Loss(), variant, **kw)
    batches, query = image_batches(n_conf=3)
    dil.step(batches, query if variant in ("ss", "ps") else None)  # non-trivial optimizer and inner state
    return model, opt, dil, batches, query


# ----------------------------------------------------------------------- API: construction
def _fresh():
    torch.manual_seed(0)
    model = small_convnet()
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


CONSTRUCTION = {
    "optimizer over another model": (
        lambda m, o: DILWrapper(m, torch.optim.Adam(small_convnet().parameters()), variant="sf"),
        ValueError, "holds none of the model's"),
    "inner_lr inf": (lambda m, o: DILWrapper(m, o, inner_lr=math.inf), ValueError, "inner_lr must be a finite"),
    "inner_lr nan": (lambda m, o: DILWrapper(m, o, inner_lr=math.nan), ValueError, "inner_lr must be a finite"),
    "inner_lr negative": (lambda m, o: DILWrapper(m, o, inner_lr=-1e-3), ValueError, "inner_lr must be a finite"),
    "outer lr nan": (lambda m, o: DILWrapper(m, torch.optim.SGD(m.parameters(), lr=math.nan)), ValueError,
                     "param group 0 has lr = nan"),
    "model not a module": (lambda m, o: DILWrapper(lambda x: x, o), TypeError, "model must be an nn.Module"),
    "optimizer not an optimizer": (lambda m, o: DILWrapper(m, [o]), TypeError, "optimizer must be a torch.optim"),
    "unknown variant": (lambda m, o: DILWrapper(m, o, variant="maml"), ValueError, "unknown variant 'maml'"),
    "unknown backend": (lambda m, o: DILWrapper(m, o, variant="ps", backend="jax"), ValueError,
                        "unknown backend 'jax'"),
    "inner_steps for a second-order variant": (lambda m, o: DILWrapper(m, o, variant="ps", inner_steps=2),
                                               ValueError, "inner_steps applies to DIL_sf and DIL_pf only"),
    "inner_steps zero": (lambda m, o: DILWrapper(m, o, variant="pf", inner_steps=0), ValueError,
                         "inner_steps must be a positive integer"),
    "ddp_mode unknown": (lambda m, o: DILWrapper(m, o, ddp_mode="async"), ValueError, "ddp_mode must be"),
    "autocast float64": (lambda m, o: DILWrapper(m, o, autocast_dtype=torch.float64), ValueError,
                         "autocast_dtype must be"),
    "virtual betas out of range": (lambda m, o: DILWrapper(m, o, variant="ps", virtual_betas=(1.0, 0.999)),
                                   ValueError, "betas must lie in"),
}


@pytest.mark.parametrize("case", list(CONSTRUCTION))
def test_api_construction(case):
    build, exc, message = CONSTRUCTION[case]
    model, opt = _fresh()
    before = _state(model, opt)
    with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(model, opt)
    assert _same(before, _state(model, opt))


# ------------------------------------------------------------------------------- API: step
def _b64(batches):
    return [(x.double(), y) for x, y in batches]


STEP = {
    "target of another shape (would broadcast)": (
        "sf", lambda b, q: ([(x, y[:, :1]) for x, y in b], None), ValueError, "no broadcasting"),
    "input float64, model float32": (
        "sf", lambda b, q: (_b64(b), None), TypeError, r"confounder_batches\[0\]: input is torch.float64"),
    "target float16": (
        "erm", lambda b, q: ([(x, y.half()) for x, y in b], None), TypeError, "target is torch.float16"),
    "query on the meta device": (
        "ps", lambda b, q: (b, (q[0].to("meta"), q[1])), TypeError, "query_batch: input is torch.float32 on meta"),
    "no confounders": ("sf", lambda b, q: ([], None), ValueError, "confounder_batches is empty"),
    "a tensor instead of a list": ("sf", lambda b, q: (b[0][0], None), TypeError, "must be a sequence of batches"),
    "a batch that is not a pair": ("sf", lambda b, q: ([b[0][0]] * 3, None), TypeError, r"\(input, target\) pair"),
    "input and target batch sizes differ": (
        "sf", lambda b, q: ([(x, y[:1]) for x, y in b], None), ValueError, "batch sizes differ"),
    "second order without a query": ("ps", lambda b, q: (b, None), ValueError, "needs query_batch"),
    "confounders of different shapes": (
        "pf", lambda b, q: ([b[0], (b[1][0][..., :4], b[1][1][..., :4])], None), ValueError,
        "must share the per-sample shapes"),
    "integer images": ("sf", lambda b, q: ([((x * 255).byte(), y) for x, y in b], None), TypeError,
                       "floating-point tensor"),
    "non-finite input": ("sf", lambda b, q: ([(x * math.nan, y) for x, y in b], None), FloatingPointError,
                         "non-finite"),
}


@pytest.mark.parametrize("case", list(STEP))
def test_api_step(case):
    variant, bad, exc, message = STEP[case]
    model, opt, dil, batches, query = _wrapper(variant)
    before = _state(model, opt, dil)
    args = bad(batches, query)
    with pytest.raises(exc, match=message):
        dil.step(*args)
    assert _same(before, _state(model, opt, dil))


# --------------------------------------------------------------------- API: load_state_dict
def _bad_inner_moment(sd):
    st = next(iter(sd["inner_optimizer"]["state"].values()))
    st["exp_avg"] = torch.zeros(7)


def _bad_generator(sd):
    sd["generator"] = torch.zeros(3)


def _bad_moments(sd):
    sd["virtual_step"]["exp_avg"] = {"not.a.param": torch.zeros(1)}


def _bad_groups(sd):
    sd["inner_optimizer"]["param_groups"][0]["params"] = [0]


LOAD = {
    "inner moment of another shape (and a good generator)": ("sf", _bad_inner_moment, "has shape"),
    "generator state of the wrong kind": ("sf", _bad_generator, "generator must be the uint8 tensor"),
    "virtual moments of other parameters": ("ps", _bad_moments, "is for other parameters"),
    "inner optimizer for another model": ("sf", _bad_groups, "holds 1 parameters"),
    "negative step count": ("sf", lambda sd: sd.update(step_count=-1), "step_count must be a non-negative int"),
    "missing entry": ("sf", lambda sd: sd.pop("virtual_step"), "lacks virtual_step"),
    "another variant": ("sf", lambda sd: sd.update(variant="pf"), "state is for variant 'pf'"),
    "not a state": ("sf", lambda sd: sd.update(version=99), "not a DILWrapper state"),
}


@pytest.mark.parametrize("case", list(LOAD))
def test_api_load_state_dict_changes_nothing(case):
    variant, damage, message = LOAD[case]
    model, opt, dil, batches, query = _wrapper(variant)
    other = _wrapper(variant)[2]
    other.step(batches, query if variant == "ps" else None)  # a state that differs from dil's
    sd = copy.deepcopy(other.state_dict())
    damage(sd)
    before = _state(model, opt, dil)
    with pytest.raises(ValueError, match=message):
        dil.load_state_dict(sd)
    assert _same(before, _state(model, opt, dil))


# ------------------------------------------------------------------------------- data
def _data_cases(tmp: Path) -> dict:
    from dil_optim import GaussianNoise
    from dil_optim.augment import ConfounderSet
    from dil_optim.data import ImageFolder, PatchSampler, load_image
    from dil_optim.metrics import psnr

    (tmp / "empty").mkdir()
    (tmp / "notes.png").write_text("not an image")
    x = torch.rand(2, 3, 8, 8)
    return {
        "image folder missing": (lambda: ImageFolder(tmp / "nowhere"), FileNotFoundError, "nowhere"),
        "image folder empty": (lambda: ImageFolder(tmp / "empty"), FileNotFoundError, "empty"),
        "file that is not an image": (lambda: load_image(tmp / "notes.png"), ValueError, "cannot decode"),
        "images smaller than a patch": (lambda: PatchSampler([torch.rand(3, 8, 8)], 16, 2), ValueError,
                                        "no image is at least 16x16"),
        "patch size zero": (lambda: PatchSampler([torch.rand(3, 8, 8)], 0, 2), ValueError,
                            "must be a positive int"),
        "noise on values outside [0, 1]": (lambda: GaussianNoise(10)(x * 3), ValueError, r"values in \[0, 1\]"),
        "noise on a (C, H, W) image": (lambda: GaussianNoise(10)(x[0]), ValueError, r"shape \(N, C, H, W\)"),
        "confounder set without confounders": (lambda: ConfounderSet([]), ValueError, "at least one confounder"),
        "PSNR of differently sized images": (lambda: psnr(x, x[..., :4]), ValueError, "differ in shape"),
    }


DATA_CASES = ["image folder missing", "image folder empty", "file that is not an image",
              "images smaller than a patch", "patch size zero", "noise on values outside [0, 1]",
              "noise on a (C, H, W) image", "confounder set without confounders", "PSNR of differently sized images"]


@pytest.mark.parametrize("case", DATA_CASES)
def test_data(case, tmp_path):
    cases = _data_cases(tmp_path)
    call, exc, message = cases[case]
    files = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(exc, match=message):
        call()
    assert sorted(p.name for p in tmp_path.rglob("*")) == files


def test_data_checksum_mismatch_names_both_sums(tmp_path):
    from dil_optim.data.registry import FileRecord
    from dil_optim.data.verify import check_file

    path = tmp_path / "a.png"
    path.write_bytes(b"not the file")
    record = FileRecord(file="a.png", sha256="0" * 64, pixels_sha256="1" * 64, width=4, height=4,
                        size=12)
    problem = check_file(path, record, None)
    assert problem is not None and "expected sha256 " + "0" * 64 in problem
    assert hashlib.sha256(b"not the file").hexdigest() in problem
    assert path.read_bytes() == b"not the file"


# ------------------------------------------------------------------------------- config
GOOD = {"train": {"steps": 2}}

CONFIG = {
    "unknown key": ({"train": {"steps": 2, "stpes": 3}}, "unknown key train.stpes"),
    "wrong type": ({"train": {"steps": "ten"}}, "train.steps must be of type int"),
    "bool for an int": ({"train": {"steps": True}}, "train.steps must be of type int"),
    "lr inf": ({"train": {"steps": 2, "lr": math.inf}}, "train.lr must be a finite number"),
    "lr nan": ({"train": {"steps": 2, "lr": math.nan}}, "train.lr must be a finite number"),
    "inner_lr negative": ({"train": {"steps": 2}, "dil": {"inner_lr": -1.0}}, "dil.inner_lr must be > 0"),
    "device misspelt": ({"train": {"steps": 2, "device": "gpu"}}, "train.device = 'gpu' is not a device"),
    "unknown model override": ({"train": {"steps": 2}, "model": {"name": "dncnn", "overrides": {"widht": 8}}},
                               "model.overrides has unknown key"),
    "variant unknown": ({"train": {"steps": 2}, "dil": {"variant": "maml"}}, "dil.variant = 'maml' is not allowed"),
    "milestones decreasing": ({"train": {"steps": 9, "milestones": [5, 3]}}, "train.milestones must be increasing"),
    "no steps": ({"train": {}}, "train.steps must be a positive integer"),
    "inner_steps zero": ({"train": {"steps": 2}, "dil": {"inner_steps": 0}}, "dil.inner_steps must be >= 1"),
    "section not a table": ({"train": 3}, r"\[train\] must be a table"),
}


@pytest.mark.parametrize("case", list(CONFIG))
def test_config(case):
    raw, message = CONFIG[case]
    frozen = copy.deepcopy(raw)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)
    assert _same(raw, frozen) or case in ("lr nan",)  # nan != nan; the dict is not written to anyway
    parse_config(GOOD)


def test_config_file_missing_and_invalid_toml(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "run.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nsteps = 2\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    assert bad.read_text() == "[train\nsteps = 2\n"


# ------------------------------------------------------------------------------- CLI
def _config(tmp: Path, *, steps: int = 2, lr: str = "1e-3", extra_train: str = "", data: str = "",
            out: Path | None = None) -> Path:
    path = tmp / "run.toml"
    path.write_text(f"""
task = "denoise"
[model]
name = "dncnn"
overrides = {{ width = 4, depth = 2 }}
[dil]
variant = "sf"
[train]
steps = {steps}
lr = {lr}
batch_size = 2
patch_size = 8
checkpoint_every = 0
device = "cpu"
{extra_train}
[data]
{data}
[output]
dir = "{out if out is not None else tmp / 'run'}"
""")
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def trained(tmp_path, capsys):
    """A finished 2-step run in tmp_path/run."""
    assert main(["train", "--config", str(_config(tmp_path))]) == 0
    capsys.readouterr()
    return tmp_path


def test_cli_rerun_without_resume_keeps_the_checkpoint(trained, capsys):
    before = _files(trained / "run")
    assert main(["train", "--config", str(_config(trained))]) == 2
    _one_error_line(capsys, "checkpoint.pt exists", "--resume", "--overwrite")
    assert _files(trained / "run") == before


def test_cli_resume_with_changed_lr_lists_the_key(trained, capsys):
    before = _files(trained / "run")
    assert main(["train", "--config", str(_config(trained, steps=4, lr="5e-3")), "--resume"]) == 2
    line = _one_error_line(capsys, "train.lr", "0.001 -> 0.005", "--overwrite")
    assert "train.steps" not in line.split("(safe")[0]  # steps is a safe change, not listed as refused
    assert _files(trained / "run") == before


def test_cli_resume_with_safe_change_is_applied_and_recorded(trained):
    assert main(["train", "--config", str(_config(trained, steps=3)), "--resume"]) == 0
    state = load_checkpoint(trained / "run" / "checkpoint.pt")
    assert state["step"] == 3
    history = state["extra"]["config"]["resume_history"]
    assert history == [{"step": 2, "key": "train.steps", "old": 2, "new": 3}]
    assert state["extra"]["config"]["train"]["steps"] == 3


def test_cli_resume_past_the_new_step_count(trained, capsys):
    before = _files(trained / "run")
    assert main(["train", "--config", str(_config(trained, steps=1)), "--resume"]) == 2
    _one_error_line(capsys, "at step 2, past train.steps = 1")
    assert _files(trained / "run") == before


def test_cli_overwrite_starts_over(trained):
    assert main(["train", "--config", str(_config(trained)), "--overwrite"]) == 0
    assert load_checkpoint(trained / "run" / "checkpoint.pt")["extra"]["config"]["resume_history"] == []


def test_cli_resume_and_overwrite_together(trained, capsys):
    before = _files(trained / "run")
    assert main(["train", "--config", str(_config(trained)), "--resume", "--overwrite"]) == 2
    _one_error_line(capsys, "contradict")
    assert _files(trained / "run") == before


def test_cli_resume_without_checkpoint(tmp_path, capsys):
    assert main(["train", "--config", str(_config(tmp_path)), "--resume"]) == 2
    _one_error_line(capsys, "--resume: no checkpoint at", "run without --resume")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_cli_output_dir_below_a_file(tmp_path, capsys):
    (tmp_path / "blocker").write_text("keep me")
    assert main(["train", "--config", str(_config(tmp_path, out=tmp_path / "blocker" / "run"))]) == 2
    _one_error_line(capsys, "is a file", "[output] dir")
    assert (tmp_path / "blocker").read_text() == "keep me"


def test_cli_training_images_missing(tmp_path, capsys):
    cfg = _config(tmp_path, data=f'train_root = "{tmp_path / "photos"}"')
    assert main(["train", "--config", str(cfg)]) == 2
    _one_error_line(capsys, "photos", "train_root")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_cli_training_images_smaller_than_a_patch(tmp_path, capsys):
    from PIL import Image

    (tmp_path / "photos").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "photos" / "tiny.png")
    cfg = _config(tmp_path, data=f'train_root = "{tmp_path / "photos"}"')
    assert main(["train", "--config", str(cfg)]) == 2
    _one_error_line(capsys, "no image is at least 8x8", "patch_size")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_cli_model_override_value_rejected(tmp_path, capsys):
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace("width = 4", "width = 0"))
    assert main(["train", "--config", str(cfg)]) == 2
    _one_error_line(capsys, "width must be a positive int")
    assert not (tmp_path / "run").exists() or not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_cuda_device_without_cuda(tmp_path, capsys):
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace('device = "cpu"', 'device = "cuda"'))
    assert main(["train", "--config", str(cfg)]) == 2
    _one_error_line(capsys, "CUDA is not available", "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_fp16_on_cpu(tmp_path, capsys):
    assert main(["train", "--config", str(_config(tmp_path, extra_train='precision = "fp16"'))]) == 2
    _one_error_line(capsys, "fp16", "needs a CUDA device")


def test_cli_config_missing(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "absent.toml")]) == 2
    _one_error_line(capsys, "config file not found")


def test_cli_eval_bad_arguments(trained, capsys):
    ckpt = str(trained / "run" / "checkpoint.pt")
    assert main(["eval", "--checkpoint", ckpt, "--set", "builtin", "--sigma", "nan"]) == 2
    _one_error_line(capsys, "--sigma nan")
    assert main(["eval", "--checkpoint", ckpt, "--set", "builtin", "--sigma", "30", "--device", "gpu"]) == 2
    _one_error_line(capsys, "'gpu' is not a device")
    assert main(["eval", "--checkpoint", str(trained / "nope.pt"), "--set", "builtin", "--sigma", "30"]) == 2
    _one_error_line(capsys, "nope.pt")
    assert main(["eval", "--checkpoint", ckpt, "--set", "builtin", "--sigma", "30", "--images", "0"]) == 2
    _one_error_line(capsys, "--images 0")


def test_cli_user_error_in_a_real_process_is_one_line(tmp_path):
    """Run as a user would: exit status 2, the last stderr line names the problem, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "dil_optim.cli", "train", "--config", str(_config(tmp_path)),
                           "--resume"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --resume: no checkpoint at")


# ------------------------------------------------------------------------------- checkpoints
def test_checkpoint_truncated_is_refused_and_kept(tmp_path):
    path = save_checkpoint({"a": torch.ones(3)}, tmp_path / "c.pt")
    path.write_bytes(path.read_bytes()[:-5])
    data = path.read_bytes()
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)
    assert path.read_bytes() == data


def test_checkpoint_of_another_program(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"a": 1}, path)
    with pytest.raises(CheckpointError, match="not a dil-optim checkpoint"):
        load_checkpoint(path)


def test_checkpoint_with_code_is_refused_in_our_words(tmp_path):
    buf = io.BytesIO()
    torch.save({"fn": os.getcwd}, buf)
    payload = buf.getvalue()
    path = tmp_path / "c.pt"
    path.write_bytes(MAGIC + hashlib.sha256(payload).digest() + payload)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "loading it could run code" in message and "getcwd" in message
    assert "weights_only" not in message  # not torch's advice to retry without the safety


def test_checkpoint_leftovers_of_interrupted_writes_are_removed(tmp_path):
    dead = tmp_path / ".c.pt.999999999.x1y2.tmp"  # a writer that no longer runs
    live = tmp_path / f".c.pt.{os.getppid()}.abcd.tmp"  # a running process's write in progress
    other = tmp_path / ".d.pt.999999999.x1y2.tmp"  # another file's: not ours to remove
    for p in (dead, live, other):
        p.write_bytes(b"partial")
    save_checkpoint({"a": 1}, tmp_path / "c.pt")
    assert not dead.exists() and live.exists() and other.exists()
    assert load_checkpoint(tmp_path / "c.pt") == {"a": 1}


def test_checkpoint_interrupted_write_keeps_the_old_file(tmp_path):
    path = save_checkpoint({"a": 1}, tmp_path / "c.pt")
    before = path.read_bytes()

    class Boom:
        def __reduce__(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"a": Boom()}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_train_resume_refuses_another_format(tmp_path):
    from dil_optim.training.train import load_checkpoint as load_train

    path = save_checkpoint({"format": "something/else"}, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="not a dil_optim.train/1 checkpoint"):
        load_train(path)

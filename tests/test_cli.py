"""`dil-optim train`: a real run, a real SIGTERM, resume to the same weights, torchrun with gloo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dil_optim.cli import main
from dil_optim.training.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp: Path, name: str, *, steps: int, variant: str = "sf", every: int = 5, extra: str = "") -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f"""
task = "denoise"
[model]
name = "dncnn"
overrides = {{ width = 4, depth = 2 }}
[dil]
variant = "{variant}"
inner_lr = 1e-3
{extra}
[train]
steps = {steps}
lr = 1e-3
milestones = [4]
batch_size = 2
patch_size = 8
checkpoint_every = {every}
device = "cpu"
[output]
dir = "{tmp / name}"
""")
    return path


def _weights(folder: Path, name: str = "checkpoint.pt") -> dict[str, torch.Tensor]:
    return load_checkpoint(folder / name)["model"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("variant", ["erm", "ps"])
def test_resume_continues_to_the_same_weights(tmp_path, variant):
    assert main(["train", "--config", str(_config(tmp_path, "straight", steps=6, variant=variant))]) == 0
    half = _config(tmp_path, "split", steps=3, variant=variant)
    assert main(["train", "--config", str(half)]) == 0
    full = _config(tmp_path, "split", steps=6, variant=variant)
    assert main(["train", "--config", str(full), "--resume"]) == 0
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_checkpoints_and_resume_is_bitwise(tmp_path):
    steps = 600
    cfg = _config(tmp_path, "killed", steps=steps, every=200)
    proc = subprocess.Popen([sys.executable, "-m", "dil_optim.cli", "train", "--config", str(cfg)],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    for line in proc.stdout:  # wait until training is under way
        if "step " in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    stopped = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")["step"]
    assert 0 < stopped < steps, out
    assert "interrupted at step" in out
    assert main(["train", "--config", str(cfg), "--resume"]) == 0
    assert load_checkpoint(tmp_path / "killed" / "checkpoint.pt")["step"] == steps
    assert main(["train", "--config", str(_config(tmp_path, "straight", steps=steps, every=200))]) == 0
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "killed")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_tampered_checkpoint_is_refused_and_left_alone(tmp_path, capsys):
    cfg = _config(tmp_path, "run", steps=2)
    assert main(["train", "--config", str(cfg)]) == 0
    path = tmp_path / "run" / "checkpoint.pt"
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01
    path.write_bytes(bytes(data))
    assert main(["train", "--config", str(_config(tmp_path, "run", steps=4)), "--resume"]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    assert path.read_bytes() == bytes(data)


def test_bad_config_exits_with_a_message(tmp_path, capsys):
    cfg = _config(tmp_path, "bad", steps=2, extra='ddp_mode = "async"')
    assert main(["train", "--config", str(cfg)]) == 2
    assert "dil.ddp_mode = 'async' is not allowed; choose one of sync, local" in capsys.readouterr().err


def _torchrun(tmp_path: Path, variant: str, mode: str) -> None:
    cfg = _config(tmp_path, f"ddp-{variant}-{mode}", steps=3, variant=variant, extra=f'ddp_mode = "{mode}"')
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                    "-m", "dil_optim.cli", "train", "--config", str(cfg)],
                   env=_env(), check=True, capture_output=True, timeout=300)
    folder = tmp_path / f"ddp-{variant}-{mode}"
    r0, r1 = _weights(folder, "checkpoint-rank0.pt"), _weights(folder, "checkpoint-rank1.pt")
    assert not any(k.startswith("module.") for k in r0)  # loads into the plain model
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # the ranks stay in step


def test_torchrun_two_gloo_processes(tmp_path):
    _torchrun(tmp_path, "sf", "local")


@pytest.mark.slow
@pytest.mark.parametrize("variant, mode", [("erm", "sync"), ("sf", "sync"), ("pf", "sync"), ("pf", "local"),
                                           ("ss", "sync"), ("ps", "sync")])
def test_torchrun_every_variant(tmp_path, variant, mode):
    _torchrun(tmp_path, variant, mode)


def test_eval_scores_a_trained_checkpoint(tmp_path, capsys):
    assert main(["train", "--config", str(_config(tmp_path, "run", steps=2))]) == 0
    capsys.readouterr()
    ckpt = str(tmp_path / "run" / "checkpoint.pt")
    assert main(["eval", "--checkpoint", ckpt, "--set", "builtin", "--sigma", "30", "50", "--device", "cpu"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("builtin")]
    assert len(lines) == 2 and "sigma 30: PSNR" in lines[0] and "(3 images, step 2, sf)" in lines[0]
    psnr30, psnr50 = (float(ln.split("PSNR ")[1].split(" dB")[0]) for ln in lines)
    assert psnr30 > psnr50 > 5
    assert main(["eval", "--checkpoint", ckpt, "--set", "Manga109", "--sigma", "30",
                 "--data-root", str(tmp_path)]) == 2
    assert "Manga109" in capsys.readouterr().err


def test_reproduce_passes_options_to_the_table_script(capsys):
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "table1", "--help"])
    assert info.value.code == 0
    assert "--profile" in capsys.readouterr().out

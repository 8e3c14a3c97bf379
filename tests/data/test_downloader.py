from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dil_optim.data.downloader as dl_mod
import dil_optim.data.testsets as testsets_mod
from dil_optim.data import ChecksumError, DownloadError, FileRecord, TestSet, download, download_test_set


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    ignore_range: bool = False
    cut_after: int | None = None  # send only this many body bytes, then close
    base: str = ""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        st: ServerState = self.server.state  # type: ignore[attr-defined]
        rng = self.headers.get("Range")
        st.requests.append((self.path, rng))
        if self.path not in st.files:
            self.send_error(404, "Not Found")
            return
        data = st.files[self.path]
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and not st.ignore_range:
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if st.cut_after is None else body[:st.cut_after])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ServerState]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = ServerState(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


PAYLOAD = bytes(np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8))


def test_download_verifies_and_leaves_no_part(server: ServerState, tmp_path: Path) -> None:
    server.files["/a.bin"] = PAYLOAD
    seen: list[tuple[int, int | None]] = []
    dest = download(server.base + "/a.bin", tmp_path / "sub" / "a.bin", sha(PAYLOAD).upper(),
                    chunk_size=65536, progress=lambda d, t: seen.append((d, t)))
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "sub" / "a.bin.part").exists()
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) == 5
    download(server.base + "/a.bin", dest, sha(PAYLOAD))  # present and valid: no request
    assert len(server.requests) == 1


def test_present_file_with_other_content_is_never_overwritten(server: ServerState, tmp_path: Path) -> None:
    server.files["/a.bin"] = PAYLOAD
    dest = tmp_path / "a.bin"
    dest.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="delete it"):
        download(server.base + "/a.bin", dest, sha(PAYLOAD))
    assert dest.read_bytes() == b"mine" and not server.requests


def test_checksum_mismatch_removes_nothing(server: ServerState, tmp_path: Path) -> None:
    server.files["/a.bin"] = PAYLOAD
    (tmp_path / "other.bin").write_bytes(b"cached before")
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        download(server.base + "/a.bin", tmp_path / "a.bin", wrong)
    assert wrong in str(err.value) and sha(PAYLOAD) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.bin"]
    assert (tmp_path / "other.bin").read_bytes() == b"cached before"


def test_interrupted_download_resumes_with_range(server: ServerState, tmp_path: Path) -> None:
    server.files["/a.bin"] = PAYLOAD
    server.cut_after = 100_000
    dest = tmp_path / "a.bin"
    with pytest.raises(DownloadError, match="stopped at 100000 of 300000 bytes"):
        download(server.base + "/a.bin", dest, sha(PAYLOAD))
    part = tmp_path / "a.bin.part"
    assert not dest.exists() and part.read_bytes() == PAYLOAD[:100_000]
    server.cut_after = None
    download(server.base + "/a.bin", dest, sha(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert server.requests[-1] == ("/a.bin", "bytes=100000-")


def test_server_ignoring_range_restarts(server: ServerState, tmp_path: Path) -> None:
    server.files["/a.bin"] = PAYLOAD
    server.ignore_range = True
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:5000])
    download(server.base + "/a.bin", tmp_path / "a.bin", sha(PAYLOAD))
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    assert server.requests == [("/a.bin", "bytes=5000-")]


def test_complete_part_file_is_finalised_on_416(server: ServerState, tmp_path: Path) -> None:
    server.files["/a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD)
    download(server.base + "/a.bin", tmp_path / "a.bin", sha(PAYLOAD))
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_http_errors_and_bad_arguments(server: ServerState, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"missing.bin failed: HTTP 404"):
        download(server.base + "/missing.bin", tmp_path / "m.bin", "a" * 64)
    assert not list(tmp_path.iterdir())
    with pytest.raises(DownloadError, match="failed"):
        download("http://127.0.0.1:1/x", tmp_path / "x", "a" * 64, timeout=5)
    with pytest.raises(ValueError, match="64 hex"):
        download(server.base + "/a.bin", tmp_path / "a.bin", "abc")


# --- whole test sets ---------------------------------------------------------------------

def _png(arr: np.ndarray, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", **kw)
    return buf.getvalue()


@pytest.fixture
def fake_remote_set5(server: ServerState, monkeypatch: pytest.MonkeyPatch) -> list[FileRecord]:
    rng = np.random.default_rng(1)
    records = []
    for i in range(5):
        arr = rng.integers(0, 256, size=(10, 14, 3), dtype=np.uint8)
        png = _png(arr, compress_level=9)
        pix = hashlib.sha256(arr.tobytes()).hexdigest()
        if i == 4:  # served as a TIFF, saved here as PNG (like McMaster)
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format="TIFF")
            server.files["/src/im5.tif"] = buf.getvalue()
            records.append(FileRecord("im5.png", 14, 10, len(png), sha(png), pix,
                                      server.base + "/src/im5.tif", sha(buf.getvalue())))
        else:
            server.files[f"/set/im{i + 1}.png"] = png
            records.append(FileRecord(f"im{i + 1}.png", 14, 10, len(png), sha(png), pix,
                                      server.base + f"/set/im{i + 1}.png"))
    monkeypatch.setattr(dl_mod, "manifest", lambda name: tuple(records))
    monkeypatch.setattr(testsets_mod, "manifest", lambda name: tuple(records))
    return records


def test_download_test_set_then_open_it(fake_remote_set5: list[FileRecord], server: ServerState,
                                        tmp_path: Path) -> None:
    folder = download_test_set("set5", tmp_path)
    assert folder == tmp_path / "Set5"
    assert sorted(p.name for p in folder.iterdir()) == [f"im{i}.png" for i in range(1, 6)]
    assert not list((tmp_path / ".downloads").rglob("*.*"))  # converted source removed
    ts = TestSet("Set5", tmp_path)
    tif = Image.open(io.BytesIO(server.files["/src/im5.tif"]))
    assert torch.equal(ts[4][1], torch.from_numpy(np.asarray(tif).copy()).permute(2, 0, 1).float() / 255)
    n = len(server.requests)
    download_test_set("Set5", tmp_path)  # everything present: nothing fetched
    assert len(server.requests) == n


def test_download_test_set_uses_env_root(fake_remote_set5, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIL_OPTIM_DATA", str(tmp_path / "env"))
    assert download_test_set("Set5") == tmp_path / "env" / "Set5"
    assert len(TestSet("Set5")) == 5


def test_download_test_set_gathers_problems(fake_remote_set5: list[FileRecord], server: ServerState,
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = list(fake_remote_set5)
    recs[1] = FileRecord(recs[1].file, 14, 10, 1, recs[1].sha256, recs[1].pixels_sha256)  # no URL
    recs[4] = FileRecord(recs[4].file, 14, 10, 1, recs[4].sha256, "f" * 64, recs[4].url, recs[4].source_sha256)
    monkeypatch.setattr(dl_mod, "manifest", lambda name: tuple(recs))
    (tmp_path / "Set5").mkdir()
    (tmp_path / "Set5" / "im1.png").write_bytes(b"corrupt")
    with pytest.raises(DownloadError) as err:
        download_test_set("Set5", tmp_path)
    msg = str(err.value)
    assert "3 problem(s)" in msg and "im1.png" in msg and "delete it" in msg
    assert "im2.png: no public URL" in msg and "im5.png: im5.tif decodes to other pixels" in msg
    assert (tmp_path / "Set5" / "im1.png").read_bytes() == b"corrupt"
    assert sorted(p.name for p in (tmp_path / "Set5").iterdir()) == ["im1.png", "im3.png", "im4.png"]


def test_manga109_cannot_be_downloaded(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="manga109.org"):
        download_test_set("Manga109", tmp_path)


def test_command_line(fake_remote_set5, tmp_path: Path) -> None:
    assert dl_mod.main(["Set5", "--data-root", str(tmp_path)]) == 0
    assert (tmp_path / "Set5" / "im5.png").is_file()
    assert dl_mod.main(["Set5", "Manga109", "--data-root", str(tmp_path)]) == 1

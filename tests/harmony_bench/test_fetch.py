"""`weights fetch` against a real HTTP server on 127.0.0.1 standing in for the Hub, the publishers'
hosts and a mirror: full fetch, resume after a cut, wrong bytes, gated repository, 404, a full
disk, licences and `--from DIR`. Nothing here reaches beyond the machine."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harmony_bench import fetch
from harmony_bench.cli import main
from harmony_bench.fetch import FetchError, fetch_files, metric_files
from harmony_bench.weights import HubFile, WeightFile


class Host:
    """Files by URL path; records every request's path and Range header."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut_once: set[str] = set()  # paths whose first response stops half-way
        self.no_ranges: set[str] = set()  # paths served whole whatever Range asks
        self.token: dict[str, str] = {}  # path -> the bearer token it needs (else 401)
        self.redirects: dict[str, str] = {}  # path -> where a 302 sends it
        self.requests: list[tuple[str, str | None]] = []
        self.authorization: dict[str, str | None] = {}  # path -> the Authorization header it came with
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                host.requests.append((self.path, self.headers.get("Range")))
                host.authorization[self.path] = self.headers.get("Authorization")
                if self.path in host.redirects:
                    self.send_response(302)
                    self.send_header("Location", host.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                body = host.files.get(self.path)
                needed = host.token.get(self.path)
                if needed and self.headers.get("Authorization") != f"Bearer {needed}":
                    return self._status(401)
                if body is None:
                    return self._status(404)
                ranged = self.headers.get("Range") and self.path not in host.no_ranges
                start = int(self.headers["Range"][6:-1]) if ranged else 0
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if self.path in host.cut_once:
                    host.cut_once.discard(self.path)
                    self.wfile.write(body[start:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

            def _status(self, code):
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def host(monkeypatch, tmp_path):
    h = Host()
    monkeypatch.setenv("HF_ENDPOINT", h.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token saved on this machine is read
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv(fetch.MIRROR_ENV, raising=False)
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path / "weights"))
    # the official files' declared sizes (14 GB) stand for the small test files served here
    monkeypatch.setattr(fetch, "free_bytes", lambda folder: 1 << 50)
    yield h
    h.server.shutdown()
    h.server.server_close()


def _manifest(monkeypatch, tmp_path, files: dict[str, bytes]) -> None:
    """Expected hashes of small test files, as tests of the official code paths do."""
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({name: hashlib.sha256(data).hexdigest() for name, data in files.items()}))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(path))


DATA = bytes(range(256)) * 400  # 102,400 bytes
HUB = WeightFile("hubby/model.bin", "0" * 64, "a page", "MIT", size_bytes=len(DATA),
                 hub=HubFile("org/model", "0123abc", "weights/model.bin"))


def _plain(host: Host, name: str = "plain/file.pth", licence: str = "MIT") -> WeightFile:
    return WeightFile(name, "0" * 64, "a page", licence, size_bytes=len(DATA), url=f"{host.url}/files/{name}")


def test_full_fetch_from_the_hub_and_a_plain_host(host, monkeypatch, tmp_path):
    plain = _plain(host)
    host.files["/org/model/resolve/0123abc/weights/model.bin"] = DATA
    host.files["/files/plain/file.pth"] = DATA[::-1]
    _manifest(monkeypatch, tmp_path, {HUB.name: DATA, plain.name: DATA[::-1]})
    folder, lines = tmp_path / "w", []
    report = fetch_files([HUB, plain], folder, out=lines.append)
    assert report.ok and report.fetched == [HUB.name, plain.name]
    assert (folder / HUB.name).read_bytes() == DATA and (folder / plain.name).read_bytes() == DATA[::-1]
    assert not list(folder.rglob("*.part"))
    assert any("[1/2] hubby/model.bin (102.4 kB; MIT) from " + host.url in line for line in lines)
    assert lines[-1] == f"  verified and in place: {folder / plain.name} (overall 204.8 kB of 204.8 kB)"
    # present and verified: a second call transfers nothing
    host.requests.clear()
    assert fetch_files([HUB, plain], folder, out=lines.append).present == [HUB.name, plain.name]
    assert host.requests == []


def test_a_fetched_file_is_not_hashed_again_at_first_use(host, monkeypatch, tmp_path):
    from harmony_bench import weights

    big = DATA * 11  # over 1 MiB: its hash is kept on disk
    plain = _plain(host)
    host.files["/files/plain/file.pth"] = big
    _manifest(monkeypatch, tmp_path, {plain.name: big})
    folder = Path(weights.weights_dir())
    folder.mkdir(parents=True)
    assert fetch_files([plain], folder, out=lambda line: None).ok
    cached = json.loads((folder / weights.CACHE_FILE).read_text())
    assert list(cached) == [str((folder / plain.name).resolve())]  # the .part's entry moved with it
    monkeypatch.setattr(weights, "_HASH_CACHE", {})
    reads = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: reads.append(self) or real_open(self, *a, **k))
    assert weights.sha256_of(folder / plain.name) == hashlib.sha256(big).hexdigest()
    assert folder / plain.name not in reads  # from the disk cache


def test_a_cut_transfer_resumes_with_a_range_request(host, monkeypatch, tmp_path):
    plain = _plain(host)
    path = "/files/plain/file.pth"
    host.files[path], host.cut_once = DATA, {path}
    _manifest(monkeypatch, tmp_path, {plain.name: DATA})
    monkeypatch.setattr(fetch, "ATTEMPTS", 1)  # the first call gives up: the next one resumes
    folder = tmp_path / "w"
    first = fetch_files([plain], folder, out=lambda line: None)
    assert "run the same command again to resume" in first.failed[0]
    part = folder / (plain.name + ".part")
    assert part.stat().st_size == len(DATA) // 2 and not (folder / plain.name).exists()
    assert fetch_files([plain], folder, out=lambda line: None).fetched == [plain.name]
    assert host.requests == [(path, None), (path, f"bytes={len(DATA) // 2}-")]
    assert (folder / plain.name).read_bytes() == DATA and not part.exists()


def test_a_cut_within_one_call_is_retried_from_where_it_stopped(host, monkeypatch, tmp_path):
    plain = _plain(host)
    path = "/files/plain/file.pth"
    host.files[path], host.cut_once = DATA, {path}
    _manifest(monkeypatch, tmp_path, {plain.name: DATA})
    assert fetch_files([plain], tmp_path / "w", out=lambda line: None).ok
    assert [r for _, r in host.requests] == [None, f"bytes={len(DATA) // 2}-"]


def test_a_host_that_ignores_range_sends_the_whole_file_again(host, monkeypatch, tmp_path):
    plain = _plain(host)
    path = "/files/plain/file.pth"
    host.files[path], host.no_ranges = DATA, {path}
    _manifest(monkeypatch, tmp_path, {plain.name: DATA})
    part = tmp_path / "w" / (plain.name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes of an earlier try")
    assert fetch_files([plain], tmp_path / "w", out=lambda line: None).ok
    assert host.requests == [(path, "bytes=29-")] and (tmp_path / "w" / plain.name).read_bytes() == DATA


def test_wrong_bytes_are_refused_and_deleted(host, monkeypatch, tmp_path):
    plain = _plain(host)
    host.files["/files/plain/file.pth"] = DATA[:-1] + b"x"
    _manifest(monkeypatch, tmp_path, {plain.name: DATA})
    folder = tmp_path / "w"
    report = fetch_files([plain], folder, out=lambda line: None)
    assert len(report.failed) == 1 and "\n" not in report.failed[0]
    assert "deleted, it failed verification" in report.failed[0]
    assert hashlib.sha256(DATA).hexdigest() in report.failed[0]
    assert not list(folder.rglob("file.pth*"))


def test_a_second_fetch_of_a_file_in_transfer_stops_with_one_line(host, monkeypatch, tmp_path):
    """Was: two fetches of one file appended to one .part, which then failed verification."""
    import fcntl

    plain = _plain(host)
    host.files["/files/plain/file.pth"] = DATA
    _manifest(monkeypatch, tmp_path, {plain.name: DATA})
    folder = tmp_path / "w"
    lock = folder / (plain.name + ".part.lock")
    lock.parent.mkdir(parents=True)
    with lock.open("w") as held:  # another process's transfer
        fcntl.flock(held, fcntl.LOCK_EX)
        report = fetch_files([plain], folder, out=lambda line: None)
    assert report.failed == [f"{plain.name}: another `weights fetch` is transferring it into {lock.parent} now; "
                             "run this again once it has finished"]
    assert host.requests == [] and not (folder / plain.name).exists()
    report = fetch_files([plain], folder, out=lambda line: None)
    assert report.fetched == [plain.name] and not list(folder.rglob("*.lock"))


def test_a_gated_repository_answers_with_one_line(host, monkeypatch, tmp_path):
    path = "/org/model/resolve/0123abc/weights/model.bin"
    host.files[path], host.token[path] = DATA, "hf_secret"
    _manifest(monkeypatch, tmp_path, {HUB.name: DATA})
    report = fetch_files([HUB], tmp_path / "w", out=lambda line: None)
    [line] = report.failed
    assert line == (f"hubby/model.bin: org/model is gated (HTTP 401): accept its licence at {host.url}/org/model "
                    "while logged in, then pass a read token: HF_TOKEN=hf_... harmony-bench weights fetch "
                    "(or `hf auth login` once)")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")  # with the token the same file comes
    assert fetch_files([HUB], tmp_path / "w", out=lambda line: None).fetched == [HUB.name]


def test_the_token_goes_to_the_hub_not_to_the_host_it_redirects_to(host, monkeypatch, tmp_path):
    path = "/org/model/resolve/0123abc/weights/model.bin"
    host.redirects[path] = f"{host.url}/cdn/blob"
    host.files["/cdn/blob"] = DATA
    _manifest(monkeypatch, tmp_path, {HUB.name: DATA})
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    assert fetch_files([HUB], tmp_path / "w", out=lambda line: None).ok
    assert host.authorization == {path: "Bearer hf_secret", "/cdn/blob": None}


def test_a_missing_file_is_a_404_line(host, tmp_path):
    plain = _plain(host)
    report = fetch_files([plain], tmp_path / "w", out=lambda line: None)
    assert report.failed == [f"plain/file.pth: HTTP 404 Not Found from {plain.url}"]


def test_a_disk_too_small_is_refused_before_the_first_byte(host, monkeypatch, tmp_path):
    plain = _plain(host)
    host.files["/files/plain/file.pth"] = DATA
    folder = tmp_path / "w"
    with pytest.raises(FetchError, match=r"need 102.4 kB, 100.0 kB free; nothing was fetched"):
        fetch_files([plain], folder, out=lambda line: None, free_space=lambda path: 100_000)
    assert host.requests == [] and not folder.exists()


def test_a_restricted_licence_needs_consent(host, monkeypatch, tmp_path):
    plain = _plain(host, licence="CC-BY-NC-4.0")
    host.files["/files/plain/file.pth"] = DATA
    _manifest(monkeypatch, tmp_path, {plain.name: DATA})
    folder = tmp_path / "w"
    assert fetch_files([plain], folder, out=lambda line: None).refused == [plain.name]
    assert fetch_files([plain], folder, out=lambda line: None, ask=lambda question: False).refused == [plain.name]
    assert host.requests == []
    assert fetch_files([plain], folder, out=lambda line: None, ask=lambda question: True).fetched == [plain.name]


@pytest.mark.parametrize("text, restricted", [
    ("CC-BY-NC-4.0", True), ("CC BY-NC 4.0 (MCG-NKU/AMT)", True), ("AGPL-3.0 (x)", True), ("GPL-2.0", True),
    ("cc-by-sa-4.0", True), ("MIT", False), ("Apache-2.0", False), ("CC-BY-4.0", False),
    ("BSD-3-Clause (princeton-vl/RAFT)", False)])
def test_which_licences_need_consent(text, restricted):
    assert fetch.restricted(text) is restricted


def _official_bytes() -> dict[str, bytes]:
    return {name: name.encode() * 3 for name in metric_files()}


def test_every_official_file_through_an_http_mirror(host, monkeypatch, tmp_path, capsys):
    files = _official_bytes()
    host.files.update({f"/mirror/{name}": data for name, data in files.items()})
    _manifest(monkeypatch, tmp_path, files)
    monkeypatch.setenv(fetch.MIRROR_ENV, f"{host.url}/mirror/")
    assert main(["weights", "fetch", "--accept-licence"]) == 0
    weights = tmp_path / "weights"
    assert all((weights / name).read_bytes() == data for name, data in files.items())
    assert f"{len(files)} fetched, 0 already present, 0 refused (licence), 0 failed" in capsys.readouterr().out
    assert {path for path, _ in host.requests} == {f"/mirror/{name}" for name in files}


def test_from_a_folder_filled_elsewhere(host, monkeypatch, tmp_path, capsys):
    files = _official_bytes()
    mirror = tmp_path / "usb"
    for name, data in files.items():
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        (mirror / name).write_bytes(data)
    (mirror / "syncnet_v2.model").write_bytes(b"damaged")
    _manifest(monkeypatch, tmp_path, files)
    assert main(["weights", "fetch", "dd@raft", "syncnet@v2", "--from", str(mirror)]) == 1
    out = capsys.readouterr().out
    weights = tmp_path / "weights"
    raft = "raft/raft_large_C_T_V1-22a6c225.pth"
    assert (weights / raft).read_bytes() == files[raft]
    assert (weights / "sfd_face.pth").read_bytes() == files["sfd_face.pth"]  # SyncNet's face detector
    assert not (weights / "syncnet_v2.model").exists() and "syncnet_v2.model: deleted, it failed verification" in out
    assert "2 fetched, 0 already present, 0 refused (licence), 1 failed" in out and host.requests == []


def test_a_folder_mirror_replaces_every_source(host, monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "hubby").mkdir(parents=True)
    (mirror / HUB.name).write_bytes(DATA)
    _manifest(monkeypatch, tmp_path, {HUB.name: DATA})
    monkeypatch.setenv(fetch.MIRROR_ENV, str(mirror))
    assert fetch_files([HUB], tmp_path / "w", out=lambda line: None).fetched == [HUB.name]
    assert host.requests == []


def test_dry_run_lists_every_official_file_with_size_source_licence_and_total(host, capsys):
    assert main(["weights", "fetch", "--dry-run"]) == 0
    out = capsys.readouterr().out
    files = metric_files()
    for name, (wf, keys) in files.items():
        block = out.split(f"{name}  [{', '.join(keys)}]\n", 1)[1]
        source, size, licence = block.splitlines()[:3]
        assert source == f"  source:  {fetch.source_of(wf).describe()}"
        assert size == f"  size:    {fetch.size_text(wf)}" and "not published" not in size
        assert licence.startswith(f"  licence: {wf.licence}")
    total = sum(fetch.expected_size(wf) for wf, _ in files.values())
    assert out.rstrip().endswith(f"total: {len(files)} files, {fetch.human(total)}")
    assert len(files) >= 14 and f"{host.url}/google/siglip-so400m-patch14-384/resolve/" in out

"""``python -m gptnas.bench download``: against a server on 127.0.0.1 that the test starts, never the internet."""
import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from helpers import TIMEOUT

FILE = "NATS-tss-v1_0-3ffb9-simple.tar"


class Server:
    """Serves ``payload`` at ``/FILE``, honouring ``Range: bytes=N-``; records each request's range start."""

    def __init__(self, payload: bytes):
        self.payload, self.starts = payload, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                outer.starts.append(start)
                body = outer.payload[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{FILE}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def nats_tar(nats: Path) -> bytes:
    """The official NATS-Bench 'simple' layout (the fixture's three cells) as the release's tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(nats, arcname=nats.name)
    return buf.getvalue()


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gptnas.bench", "download", *map(str, args)], capture_output=True,
                          text=True, timeout=TIMEOUT, env={**os.environ, **(env or {})})


def test_a_download_continues_checks_unpacks_and_imports_and_data_may_then_be_left_out(tmp_path, monkeypatch,
                                                                                      nb201_dir):
    nats = nb201_dir / FILE[:-4]
    payload = nats_tar(nats)
    digest = hashlib.sha256(payload).hexdigest()
    root = tmp_path / "xdg" / "gptnas"  # the default folder under XDG_DATA_HOME
    root.mkdir(parents=True)
    (root / (FILE + ".part")).write_bytes(payload[: len(payload) // 2])  # an interrupted download
    server = Server(payload)
    try:
        env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "GPTNAS_CACHE": str(tmp_path / "cache")}
        env_no_data = {k: v for k, v in os.environ.items() if k != "GPTNAS_DATA"}
        p = subprocess.run([sys.executable, "-m", "gptnas.bench", "download", "nb201", "--url", server.url,
                            "--sha256", digest, "--no-progress"], capture_output=True, text=True, timeout=TIMEOUT,
                           env={**env_no_data, **env})
    finally:
        server.close()
    assert p.returncode == 0, p.stderr
    assert server.starts == [len(payload) // 2]  # it continued where the interrupted one stopped
    assert (root / FILE).read_bytes() == payload and not (root / (FILE + ".part")).exists()
    assert (root / "nb201" / nats.name / "meta.pickle.pbz2").is_file()
    assert "imported (cifar10 3, cifar100 3, imagenet16-120 3 architectures)" in p.stdout
    assert any((tmp_path / "cache").rglob("*.h5"))  # imported once, into the table cache
    # --data left out: the default folder is found
    from gptnas.bench import resolve_benchmark_path
    monkeypatch.delenv("GPTNAS_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_benchmark_path(None, "nb201") == root / "nb201"


def test_a_wrong_digest_deletes_the_download_and_says_so_in_one_line(tmp_path):
    server = Server(b"not the release" * 1000)
    try:
        p = cli("nb201", "--to", tmp_path, "--url", server.url, "--sha256", "0" * 64, "--no-progress")
    finally:
        server.close()
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "SHA-256" in p.stderr and "is not the expected 000" in p.stderr
    assert not list(tmp_path.iterdir())  # neither the file nor a .part is kept


def test_offline_or_no_direct_url_is_one_line_with_the_manual_steps(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = cli("nb201", "--to", tmp_path, "--url", f"http://127.0.0.1:{port}/{FILE}", "--no-progress")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "offline, or the address is wrong" in p.stderr
    env = {k: v for k, v in os.environ.items() if k != "GPTNAS_MIRROR"}
    p = subprocess.run([sys.executable, "-m", "gptnas.bench", "download", "nb201", "--to", str(tmp_path)],
                       capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert f"download {FILE}" in p.stderr and "github.com/D-X-Y/NATS-Bench" in p.stderr
    assert str(tmp_path / "nb201") in p.stderr
    # once the release is unpacked there, the same command says so instead of the manual steps
    (tmp_path / "nb201" / FILE.split(".")[0]).mkdir(parents=True)
    p = subprocess.run([sys.executable, "-m", "gptnas.bench", "download", "nb201", "--to", str(tmp_path)],
                       capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert p.returncode == 0 and "already in" in p.stdout, p.stderr

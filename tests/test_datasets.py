"""Datasets: CIFAR pickle batches (and their checked download from a local server), IDX files, digits, splits."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import pickle
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from gptnas.datasets import DATASETS, Splits, canonical_name, load_dataset, make_splits, random_crop_flip
from gptnas.datasets.cifar import load_cifar
from gptnas.datasets.digits import load_digits_arrays
from gptnas.datasets.idx import DEFAULT_ROOTS, read_idx, write_idx
from gptnas.datasets.splits import channel_stats, split_indices
from gptnas.errors import ConfigError, DataError

N_BATCH = 40  # images per CIFAR batch file the tests write (5 train batches + 1 test batch)


# Fixtures: small datasets in the real formats ------------------------------------------------------------------
def write_cifar(root: Path, classes: int = 10, n: int = N_BATCH, seed: int = 0) -> dict:
    """A CIFAR release folder as the official one is laid out, with random images; returns what was written."""
    rng = np.random.default_rng(seed)
    if classes == 10:
        folder, files, key = root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], \
            b"labels"
    else:
        folder, files, key = root / "cifar-100-python", ["train", "test"], b"fine_labels"
    folder.mkdir(parents=True)
    written = {}
    for f in files:
        count = n * (5 if f == "train" else 1)
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        labels = rng.integers(0, classes, count).tolist()
        d = {b"batch_label": f.encode(), key: labels, b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(count)]}
        if classes == 100:
            d[b"coarse_labels"] = [v // 5 for v in labels]
        with open(folder / f, "wb") as fh:
            pickle.dump(d, fh, protocol=2)  # the official batches are protocol-2 pickles
        written[f] = (data, labels)
    (folder / ("batches.meta" if classes == 10 else "meta")).write_bytes(pickle.dumps({b"label_names": []}))
    return written


def tar_gz(src: Path, arcname: str, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(src, arcname=arcname)
        for name, payload in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


@pytest.fixture
def server():
    """A local HTTP server on 127.0.0.1 serving ``files`` (name → bytes) from memory; counts the requests."""
    files: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            name = self.path.lstrip("/")
            hits.append(name)
            if name not in files:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(files[name])))
            self.end_headers()
            self.wfile.write(files[name])

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files, hits
    httpd.shutdown()
    httpd.server_close()


# CIFAR -------------------------------------------------------------------------------------------------------
def test_cifar10_reads_pickle_batches(tmp_path):
    written = write_cifar(tmp_path)
    x_tr, y_tr, x_te, y_te = load_cifar(10, tmp_path)
    assert x_tr.shape == (5 * N_BATCH, 3, 32, 32) and x_tr.dtype == np.uint8
    assert y_tr.dtype == np.int64 and x_te.shape == (N_BATCH, 3, 32, 32)
    data, labels = written["data_batch_2"]
    np.testing.assert_array_equal(x_tr[N_BATCH:2 * N_BATCH], data.reshape(-1, 3, 32, 32))
    assert y_tr[N_BATCH:2 * N_BATCH].tolist() == labels
    # row layout: 1024 red values first, row-major 32x32
    assert x_tr[0, 1, 2, 3] == written["data_batch_1"][0][0, 1024 + 2 * 32 + 3]
    # the release folder itself is accepted as root too
    np.testing.assert_array_equal(load_cifar(10, tmp_path / "cifar-10-batches-py")[2], x_te)


def test_cifar100_and_splits(tmp_path):
    write_cifar(tmp_path, classes=100)
    s = load_dataset("cifar100", root=tmp_path, val_fraction=0.25, seed=3)
    assert s.sizes() == {"train": 150, "val": 50, "test": 40}
    assert s.num_classes == 100 and s.input_shape == (3, 32, 32) and s.augment
    assert s.train[0].dtype == torch.uint8 and s.train[1].dtype == torch.int64
    assert 0 <= int(s.train[1].min()) and int(s.train[1].max()) < 100


def test_cifar_download_verifies_and_extracts(tmp_path, server):
    base, files, hits = server
    write_cifar(tmp_path / "src")
    blob = tar_gz(tmp_path / "src" / "cifar-10-batches-py", "cifar-10-batches-py")
    files["cifar-10-python.tar.gz"] = blob
    md5 = hashlib.md5(blob).hexdigest()
    dest = tmp_path / "dl"
    s = load_dataset("cifar10", root=dest, download=True, url=f"{base}/cifar-10-python.tar.gz", md5=md5)
    assert s.sizes()["test"] == N_BATCH and (dest / "cifar-10-batches-py" / "test_batch").is_file()
    assert (dest / "cifar-10-python.tar.gz").is_file() and not list(dest.glob("*.part"))
    assert not [p for p in dest.iterdir() if p.name.startswith(".extract-")]
    np.testing.assert_array_equal(load_cifar(10, dest)[0], load_cifar(10, tmp_path / "src")[0])
    # present now: no second request
    load_dataset("cifar10", root=dest, download=True, url=f"{base}/cifar-10-python.tar.gz", md5=md5)
    assert hits == ["cifar-10-python.tar.gz"]


def test_cifar_download_checksum_mismatch(tmp_path, server):
    base, files, _ = server
    write_cifar(tmp_path / "src")
    files["c.tar.gz"] = tar_gz(tmp_path / "src" / "cifar-10-batches-py", "cifar-10-batches-py")
    dest = tmp_path / "dl"
    with pytest.raises(DataError, match="checksum mismatch"):
        load_cifar(10, dest, download=True, url=f"{base}/c.tar.gz", md5="0" * 32)
    assert not (dest / "cifar-10-batches-py").exists() and not list(dest.glob("c.tar.gz*"))
    with pytest.raises(DataError, match="could not download"):
        load_cifar(10, dest, download=True, url=f"{base}/missing.tar.gz", md5="0" * 32)


def test_cifar_archive_path_traversal_refused(tmp_path, server):
    base, files, _ = server
    write_cifar(tmp_path / "src")
    blob = tar_gz(tmp_path / "src" / "cifar-10-batches-py", "cifar-10-batches-py", {"../evil.txt": b"owned"})
    files["evil.tar.gz"] = blob
    dest = tmp_path / "a" / "dl"
    with pytest.raises(DataError, match="unsafe entry"):
        load_cifar(10, dest, download=True, url=f"{base}/evil.tar.gz", md5=hashlib.md5(blob).hexdigest())
    assert not (tmp_path / "a" / "evil.txt").exists() and not (dest / "cifar-10-batches-py").exists()


def test_cifar_missing_and_corrupt(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", root=tmp_path / "nowhere")
    msg = str(e.value)
    assert "nowhere" in msg and "data_batch_1" in msg and "test_batch" in msg and "download=True" in msg
    assert "\n" not in msg
    write_cifar(tmp_path / "bad")
    (tmp_path / "bad" / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="corrupt CIFAR batch .*data_batch_3"):
        load_cifar(10, tmp_path / "bad")


def test_cifar_batch_cannot_run_code(tmp_path):
    write_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "ran",))

    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataError, match="corrupt"):
        load_cifar(10, tmp_path)
    assert not (tmp_path / "ran").exists()


# IDX ----------------------------------------------------------------------------------------------------------
def write_mnist_like(root: Path, n_train: int = 120, n_test: int = 30, gz: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for stem, a in arrays.items():
        # written by hand (not with write_idx) so the reader is checked against the format itself
        raw = struct.pack(">HBB", 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
        if gz:
            (root / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (root / stem).write_bytes(raw)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_dataset(tmp_path, gz):
    arrays = write_mnist_like(tmp_path, gz=gz)
    s = load_dataset("mnist", root=tmp_path, val_fraction=0.25)
    assert s.sizes() == {"train": 90, "val": 30, "test": 30} and s.input_shape == (1, 28, 28) and not s.augment
    np.testing.assert_array_equal(s.test[0][:, 0].numpy(), arrays["t10k-images-idx3-ubyte"])
    assert s.test[1].tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_idx_round_trip_and_errors(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4) - 7
    write_idx(tmp_path / "a.idx.gz", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), a)
    write_mnist_like(tmp_path / "m", gz=False)
    p = tmp_path / "m" / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        load_dataset("mnist", root=tmp_path / "m")
    p.write_bytes(b"\x89PNG....")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(p)
    (tmp_path / "m" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as e:
        load_dataset("fashion-mnist", root=tmp_path / "m")
    assert "t10k-labels-idx1-ubyte" in str(e.value) and "apt-get install dataset-fashion-mnist" in str(e.value)


def test_real_fashion_mnist():
    root = DEFAULT_ROOTS["fashion-mnist"]
    if not (root / "train-images-idx3-ubyte.gz").is_file() and not (root / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"Fashion-MNIST not installed in {root} (apt-get install dataset-fashion-mnist)")
    s = load_dataset("fashion-mnist", resize=32, channels=3)
    assert s.sizes() == {"train": 54000, "val": 6000, "test": 10000}
    assert s.input_shape == (3, 32, 32) and s.num_classes == 10
    assert torch.bincount(s.test[1]).tolist() == [1000] * 10  # the official test split is balanced
    assert s.mean[0] == s.mean[2] and 0.25 < s.mean[0] < 0.32 and 0.3 < s.std[0] < 0.4


# Digits, splits, normalisation, augmentation ----------------------------------------------------------------
def test_digits():
    x_tr, y_tr, x_te, y_te = load_digits_arrays()
    assert x_tr.shape == (1500, 1, 8, 8) and x_te.shape == (297, 1, 8, 8) and x_tr.dtype == np.uint8
    assert x_tr.max() == 255 and set(y_tr.tolist()) == set(range(10))
    s1, s2 = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    assert torch.equal(s1.test[0], s2.test[0])  # the test split does not move with the seed


def _ids(n: int) -> np.ndarray:
    """Images whose first two pixels encode their index, so splits can be traced back."""
    x = np.zeros((n, 1, 4, 4), dtype=np.uint8)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = np.arange(n) // 256, np.arange(n) % 256
    return x


def _decode(x: torch.Tensor) -> set[int]:
    return set((x[:, 0, 0, 0].long() * 256 + x[:, 0, 0, 1].long()).tolist())


def test_split_sizes_disjoint_and_seeded():
    n = 1000
    x, y = _ids(n), np.arange(n) % 10
    s = make_splits("ids", x, y, x[:10], y[:10], 10, val_fraction=0.2, seed=7)
    tr, va = _decode(s.train[0]), _decode(s.val[0])
    assert len(tr) == 800 and len(va) == 200 and not tr & va and tr | va == set(range(n))
    assert s.train[1].tolist() == [i % 10 for i in (s.train[0][:, 0, 0, 0].long() * 256
                                                     + s.train[0][:, 0, 0, 1].long()).tolist()]
    again = make_splits("ids", x, y, x[:10], y[:10], 10, val_fraction=0.2, seed=7)
    assert torch.equal(again.val[0], s.val[0]) and torch.equal(again.train[1], s.train[1])
    other = make_splits("ids", x, y, x[:10], y[:10], 10, val_fraction=0.2, seed=8)
    assert _decode(other.val[0]) != va
    with pytest.raises(ConfigError, match="val_fraction"):
        split_indices(n, 1.0, 0)
    with pytest.raises(ConfigError, match="empty split"):
        split_indices(3, 0.01, 0)


def test_normalisation_resize_channels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 200, (300, 1, 28, 28), dtype=np.uint8)
    s = make_splits("grey", x, rng.integers(0, 10, 300), x[:20], np.zeros(20), 10, resize=32, channels=3)
    assert s.input_shape == (3, 32, 32) and s.train[0].stride(1) == 0  # the repeat is a view, not a copy
    xn = s.normalize(s.train[0])
    assert xn.dtype == torch.float32 and xn.shape == (270, 3, 32, 32)
    assert torch.allclose(xn.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(xn.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3)
    m, sd = channel_stats(s.train[0][:, :1].contiguous().float() / 255)  # float path agrees with the histogram
    assert abs(m[0] - s.mean[0]) < 1e-6 and abs(sd[0] - s.std[0]) < 1e-6
    with pytest.raises(ConfigError, match="channels"):
        make_splits("rgb", np.zeros((10, 3, 4, 4), np.uint8), np.zeros(10), np.zeros((2, 3, 4, 4), np.uint8),
                    np.zeros(2), 10, val_fraction=0.2, channels=1)
    with pytest.raises(DataError, match="labels"):
        make_splits("bad", x, np.full(300, 10), x[:2], np.zeros(2), 10)


def test_random_crop_flip():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)  # no zeros: padding is recognisable
    out = random_crop_flip(x, 4, g)
    assert out.shape == x.shape and out.dtype == x.dtype
    changed = (out != x).flatten(1).any(1)
    assert changed.float().mean() > 0.8  # 1 in 18 draws is the identity
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(8):  # each output is a window of the padded image, maybe mirrored
        windows = [w for dy in range(9) for dx in range(9)
                   for w in (padded[i, :, dy:dy + 8, dx:dx + 8], padded[i, :, dy:dy + 8, dx:dx + 8].flip(-1))]
        assert any(torch.equal(out[i], w) for w in windows)
    flips = random_crop_flip(x, 0, torch.Generator().manual_seed(1))  # pad 0: flips only, about half
    flipped = torch.tensor([torch.equal(f, xi.flip(-1)) for f, xi in zip(flips, x)])
    assert all(torch.equal(f, xi) or torch.equal(f, xi.flip(-1)) for f, xi in zip(flips, x))
    assert 16 < int(flipped.sum()) < 48
    assert torch.equal(random_crop_flip(x, 4, torch.Generator().manual_seed(0)), out)  # seeded


def test_names():
    assert canonical_name("CIFAR-10") == "cifar10" and canonical_name("fmnist") == "fashion-mnist"
    assert set(DATASETS) == {"cifar10", "cifar100", "fashion-mnist", "mnist", "digits", "imagenet"}
    with pytest.raises(ConfigError, match="cifar10, cifar100"):
        load_dataset("imagenet-21k")
    assert isinstance(load_dataset("digits"), Splits)

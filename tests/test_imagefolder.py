"""ImageNet in the ImageFolder layout: decoding, class mapping, stratified fraction, the .npy cache, errors, wiring.

Every test builds a tiny tree with Pillow: three classes created in unsorted order, images of several sizes, modes
(RGB, L, RGBA, P) and file endings, each a solid colour unique in the tree, so a decoded image says which file it came
from.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gptnas.datasets import DATASETS, IMAGENET_SIZE, Splits, load_dataset
from gptnas.datasets import imagefolder as imf
from gptnas.datasets.imagefolder import decode_image, load_imagefolder, stratified_subset
from gptnas.errors import ConfigError, DataError

#: Created in this (unsorted) order; labels must follow the sorted names.
CLASSES = {"zebra": (10, 3), "apple": (6, 2), "mango": (4, 2)}   # name -> (train images, val images)
SORTED = {"apple": 0, "mango": 1, "zebra": 2}
SIZES = [(24, 16), (16, 30), (20, 20), (33, 18), (6, 10), (17, 25)]   # (w, h); (6, 10) is upscaled
MODES = [("RGB", ".JPEG"), ("L", ".png"), ("RGBA", ".png"), ("RGB", ".jpg"), ("P", ".png"), ("RGB", ".jpeg")]
S = 8
TOL = 6  # JPEG rounding on a solid colour


def solid(mode: str, size, rgb) -> Image.Image:
    im = Image.new("RGB", size, rgb)
    if mode == "L":
        return im.convert("L")
    if mode == "RGBA":
        im = im.convert("RGBA")
        im.putalpha(255)
        return im
    if mode == "P":
        return im.convert("P", palette=Image.ADAPTIVE, colors=4)
    return im


def make_tree(root: Path, classes: dict = CLASSES, start: int = 0) -> dict[str, list]:
    """Write ``root/{train,val}/<class>/`` and return, per split, ``(relative path, label, expected RGB)`` in the
    loader's order (sorted class, then sorted file name)."""
    j = start
    out = {"train": [], "val": []}
    for name, counts in classes.items():
        for split, n in zip(("train", "val"), counts):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                mode, ext = MODES[j % len(MODES)]
                rgb = (30 + 80 * SORTED.get(name, 0), 20 + 8 * j, 230 - 8 * j)
                im = solid(mode, SIZES[j % len(SIZES)], rgb)
                expected = tuple(int(v) for v in np.asarray(im.convert("RGB")).reshape(-1, 3)[0])
                rel = f"{split}/{name}/img{i:02d}{ext}"
                im.save(root / rel, **({} if ext == ".png" else {"quality": 95}))
                out[split].append((rel, SORTED.get(name, -1), expected))
                j += 1
        (root / "train" / name / "notes.txt").write_text("not an image")  # ignored
    for split in out:
        out[split].sort(key=lambda t: (t[1], t[0]))
    return out


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "imagenet"
    return root, make_tree(root)


def colours(x: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) → (N, 3) mean colour."""
    return np.asarray(x, dtype=np.float64).mean(axis=(2, 3))


def match(x: np.ndarray, expected: list) -> list[int]:
    """Index in ``expected`` of each decoded image (by its colour); fails when one matches none."""
    ref = np.array([e[2] for e in expected], dtype=np.float64)
    out = []
    for c in colours(x):
        d = np.abs(ref - c).max(axis=1)
        assert d.min() <= TOL, f"decoded colour {c} matches no image written"
        out.append(int(d.argmin()))
    return out


def assert_one_line(exc: pytest.ExceptionInfo, *parts: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    for p in parts:
        assert p in msg, (p, msg)
    return msg


# Decoding ------------------------------------------------------------------------------------------------------
def test_decode_resizes_shorter_side_then_centre_crops(tmp_path):
    # 40x20: red cols 0-14, green 15-24, blue 25-39. Shorter side 20 -> 10 makes it 20x10; the centre 10 columns
    # (5..14 of the resized, 10..29 of the original) show red, then green, then blue. A crop without the resize would
    # be all green, a left crop would have no blue.
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :15, 0] = 255
    a[:, 15:25, 1] = 255
    a[:, 25:, 2] = 255
    for name, arr in (("wide.png", a), ("tall.png", a.transpose(1, 0, 2))):
        Image.fromarray(np.ascontiguousarray(arr)).save(tmp_path / name)
        x = decode_image(tmp_path / name, 10)
        assert x.shape == (3, 10, 10) and x.dtype == np.uint8
        x = x if name == "wide.png" else x.transpose(0, 2, 1)  # columns of the wide = rows of the tall
        assert (x[0, :, 0] > 200).all() and (x[1:, :, 0] < 50).all()       # left edge red
        assert (x[1, :, 4:6] > 200).all() and (x[[0, 2], :, 4:6] < 50).all()  # middle green
        assert (x[2, :, -1] > 200).all() and (x[:2, :, -1] < 50).all()     # right edge blue


def test_shapes_modes_and_labels_follow_sorted_class_names(tree):
    root, written = tree
    x_tr, y_tr, x_te, y_te = load_imagefolder(root, resize=S, cache_dir=False)
    assert isinstance(x_tr, np.ndarray) and x_tr.dtype == np.uint8 and x_tr.shape == (20, 3, S, S)
    assert x_te.dtype == np.uint8 and x_te.shape == (7, 3, S, S)
    assert y_tr.dtype == np.int64 and y_te.dtype == np.int64
    for x, y, exp in ((x_tr, y_tr, written["train"]), (x_te, y_te, written["val"])):
        assert y.tolist() == [e[1] for e in exp]                      # apple 0, mango 1, zebra 2 (not creation order)
        ref = np.array([e[2] for e in exp], dtype=np.float64)
        assert np.abs(colours(x) - ref).max() <= TOL                  # every mode (L, RGBA, P, JPEG) decoded to RGB
        assert (np.asarray(x).std(axis=(2, 3)) < 3).all()             # solid images stay solid, crop inside
    assert np.bincount(y_tr).tolist() == [6, 4, 10] and np.bincount(y_te).tolist() == [2, 2, 3]


def test_val_uses_the_train_mapping_and_rejects_unknown_classes(tmp_path):
    root = tmp_path / "t"
    make_tree(root, {"zebra": (3, 2), "apple": (2, 0), "mango": (2, 1)})
    (root / "val" / "apple").rmdir()  # val holds only mango and zebra: still labelled 1 and 2 as in train
    _, y_tr, _, y_te = load_imagefolder(root, resize=S, cache_dir=False)
    assert sorted(set(y_tr.tolist())) == [0, 1, 2]
    assert y_te.tolist() == [1, 2, 2]
    (root / "val" / "kiwi").mkdir()
    Image.new("RGB", (9, 9)).save(root / "val" / "kiwi" / "a.JPEG")
    with pytest.raises(DataError) as e:
        load_imagefolder(root, resize=S, cache_dir=False)
    assert_one_line(e, str(root / "val"), "kiwi")


# Fraction ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0.5, 0.25, 0.1])
def test_fraction_is_a_stratified_seeded_subset(tree, fraction):
    root, written = tree
    x, y, x_te, y_te = load_imagefolder(root, resize=S, fraction=fraction, seed=3, cache_dir=False)
    want = [max(1, int(round(n * fraction))) for n in (6, 4, 10)]
    assert np.bincount(y, minlength=3).tolist() == want
    picked = match(x, written["train"])
    assert [written["train"][i][1] for i in picked] == y.tolist()       # each image keeps its own label
    assert len(set(picked)) == len(picked)
    assert len(y_te) == 7                                                # the test split (val/) is never subsampled
    again = load_imagefolder(root, resize=S, fraction=fraction, seed=3, cache_dir=False)
    assert np.array_equal(again[0], x) and np.array_equal(again[1], y)   # deterministic per seed
    others = [tuple(match(load_imagefolder(root, resize=S, fraction=fraction, seed=s, cache_dir=False)[0],
                          written["train"])) for s in (4, 5, 6)]
    assert any(o != tuple(picked) for o in others)                       # the seed chooses the subset


def test_stratified_subset_validates_and_caps():
    y = np.repeat(np.arange(3), [6, 4, 10])
    assert np.array_equal(stratified_subset(y), np.arange(20))
    idx = stratified_subset(y, 1.0, 0, max_per_class=3)
    assert np.bincount(y[idx]).tolist() == [3, 3, 3] and np.all(np.diff(idx) > 0)
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ConfigError):
            stratified_subset(y, bad)


# Cache ---------------------------------------------------------------------------------------------------------
def test_cache_is_written_atomically_and_reused_without_opening_images(tree, tmp_path, monkeypatch):
    root, written = tree
    cache = tmp_path / "cache"
    first = load_imagefolder(root, resize=S, cache_dir=cache)
    files = sorted(p.name for p in cache.iterdir() if p.suffix == ".npy")
    assert len(files) == 2 and not [p for p in cache.iterdir() if ".tmp" in p.name]
    assert any("-train-" in f for f in files) and any("-val-" in f for f in files)

    def refuse(*a, **k):
        raise RuntimeError("an image was opened although the cache holds it")

    monkeypatch.setattr(Image, "open", refuse)
    second = load_imagefolder(root, resize=S, cache_dir=cache, mmap_mode="r")
    assert isinstance(second[0], np.memmap) and isinstance(second[2], np.memmap)
    for a, b in zip(first, second):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(RuntimeError):  # a different side is a different cache entry: decoded again
        load_imagefolder(root, resize=S + 2, cache_dir=cache)


def test_cache_key_follows_fraction_seed_and_file_changes(tree, tmp_path, monkeypatch):
    root, written = tree
    cache = tmp_path / "cache"
    load_imagefolder(root, resize=S, cache_dir=cache)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda p, *a, **k: (opened.append(Path(p)), real_open(p, *a, **k))[1])
    x, y, _, _ = load_imagefolder(root, resize=S, fraction=0.5, seed=1, cache_dir=cache)
    assert len(opened) == len(y) == 10 and all(p.parent.parent.name == "train" for p in opened)  # val from cache
    assert len([p for p in cache.iterdir() if p.suffix == ".npy"]) == 3
    opened.clear()
    load_imagefolder(root, resize=S, fraction=0.5, seed=2, cache_dir=cache)
    assert len(opened) == 10
    # An image replaced in place (new content and size) is decoded again, not served stale from the cache.
    rel, label, _ = written["train"][0]
    Image.new("RGB", (31, 31), (250, 5, 5)).save(root / rel, quality=95)
    opened.clear()
    x_tr = load_imagefolder(root, resize=S, cache_dir=cache)[0]
    assert len(opened) == 20
    assert np.abs(colours(x_tr[:1]) - [250, 5, 5]).max() <= TOL


def test_parallel_decoding_matches_serial(tree, monkeypatch):
    root, _ = tree
    serial = load_imagefolder(root, resize=S, cache_dir=False, workers=1)
    monkeypatch.setattr(imf, "PARALLEL_MIN", 1)
    calls = []
    real = imf.cf.ThreadPoolExecutor
    monkeypatch.setattr(imf.cf, "ThreadPoolExecutor", lambda *a, **k: calls.append(k) or real(*a, **k))
    par = load_imagefolder(root, resize=S, cache_dir=False, workers=2)
    assert calls and calls[0]["max_workers"] == 2
    for a, b in zip(serial, par):
        assert np.array_equal(a, b)
    (root / "train" / "mango" / "zz.JPEG").write_bytes(b"garbage")
    with pytest.raises(DataError) as e:
        load_imagefolder(root, resize=S, cache_dir=False, workers=2)
    assert_one_line(e, str(root / "train" / "mango" / "zz.JPEG"))


# Errors --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["train", "val"])
def test_missing_split_folder(tree, missing):
    root, _ = tree
    import shutil
    shutil.rmtree(root / missing)
    with pytest.raises(DataError) as e:
        load_imagefolder(root, resize=S, cache_dir=False)
    assert_one_line(e, f"no {missing}/ folder in {root}", f"{root}/train/<class>/*.JPEG", f"{root}/val/<class>/*.JPEG")


def test_missing_root_and_no_class_folders(tmp_path):
    with pytest.raises(DataError) as e:
        load_imagefolder(tmp_path / "nowhere", resize=S, cache_dir=False)
    assert_one_line(e, str(tmp_path / "nowhere"), "ImageFolder layout")
    (tmp_path / "flat" / "train").mkdir(parents=True)
    (tmp_path / "flat" / "val").mkdir()
    Image.new("RGB", (9, 9)).save(tmp_path / "flat" / "train" / "a.JPEG")  # images straight in train/: no classes
    with pytest.raises(DataError) as e:
        load_imagefolder(tmp_path / "flat", resize=S, cache_dir=False)
    assert_one_line(e, f"no class folders in {tmp_path / 'flat' / 'train'}")


@pytest.mark.parametrize("split", ["train", "val"])
def test_empty_class_folder(tree, split):
    root, _ = tree
    empty = root / split / "apple"
    for p in empty.iterdir():
        p.unlink()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(DataError) as e:
        load_imagefolder(root, resize=S, cache_dir=False)
    assert_one_line(e, f"empty class folder {empty}", "*.JPEG")


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_unreadable_image(tree, tmp_path, kind):
    root, _ = tree
    bad = root / "train" / "zebra" / "bad.JPEG"
    if kind == "garbage":
        bad.write_bytes(b"this is not a JPEG")
    else:
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
        bad.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as e:
        load_imagefolder(root, resize=S, cache_dir=cache)
    assert_one_line(e, f"unreadable image {bad}")
    assert not [p for p in cache.iterdir() if p.suffix == ".npy" and "-train-" in p.name]  # no half cache left
    assert not [p for p in cache.iterdir() if ".tmp" in p.name]


def test_bad_settings(tree):
    root, _ = tree
    with pytest.raises(ConfigError):
        load_imagefolder(root, resize=0, cache_dir=False)
    with pytest.raises(ConfigError):
        load_imagefolder(root, resize=S, fraction=0, cache_dir=False)


# Registry and wiring -------------------------------------------------------------------------------------------
def test_load_dataset_imagenet(tree, tmp_path):
    root, _ = tree
    assert "imagenet" in DATASETS and DATASETS["imagenet"][1] == 1000 and IMAGENET_SIZE == 224
    s = load_dataset("ImageNet-1k", root=root, resize=16, val_fraction=0.2, seed=1, cache_dir=tmp_path / "c")
    assert isinstance(s, Splits) and s.name == "imagenet"
    assert s.input_shape == (3, 16, 16) and s.num_classes == 3 and s.augment  # classes = class folders of train/
    assert s.sizes() == {"train": 16, "val": 4, "test": 7}
    assert s.train[0].dtype == torch.uint8 and s.test[1].dtype == torch.int64
    assert s.mapped  # the decoded cache stays on disk, read a batch at a time (all of ImageNet: 193 GB)
    assert not load_dataset("imagenet", root=root, resize=16, cache_dir=False).mapped  # no cache: in memory
    sub = load_dataset("imagenet", root=root, resize=(16, 16), fraction=0.5, cache_dir=tmp_path / "c")
    assert sub.sizes()["train"] + sub.sizes()["val"] == 10 and sub.sizes()["test"] == 7
    # The default side is IMAGENET_SIZE.
    full = load_dataset("imagenet", root=root, cache_dir=tmp_path / "c", max_per_class=2, val_fraction=0.5)
    assert full.input_shape == (3, IMAGENET_SIZE, IMAGENET_SIZE) and full.sizes() == {"train": 3, "val": 3, "test": 6}


def test_load_dataset_imagenet_errors(tree):
    root, _ = tree
    with pytest.raises(ConfigError) as e:
        load_dataset("imagenet")
    assert_one_line(e, "--dataset-dir DIR")
    with pytest.raises(ConfigError):
        load_dataset("imagenet", root=root, download=True)
    with pytest.raises(ConfigError):
        load_dataset("imagenet", root=root, resize=(16, 8), cache_dir=False)
    with pytest.raises(ConfigError) as e:
        load_dataset("digits", fraction=0.1)
    assert_one_line(e, "imagenet only")
    assert load_dataset("digits", fraction=1.0).num_classes == 10  # 1.0 is accepted everywhere


def test_config_and_training_evaluator_thread_fraction(tree, tmp_path, monkeypatch):
    from gptnas.config import IMAGE_DATASETS, RunConfig, validate
    from gptnas.evaluators.factory import IMAGE_SHAPES, build_evaluator
    from gptnas.evaluators.training import TrainingEvaluator

    root, _ = tree
    assert "imagenet" in IMAGE_DATASETS and IMAGE_SHAPES["imagenet"] == (3, 224, 224, 1000)
    cfg = RunConfig()
    cfg.dataset, cfg.fitness = "cifar10", "train"
    cfg.train.fraction = 0.1
    with pytest.raises(ConfigError):
        validate(cfg)
    cfg = RunConfig()
    cfg.dataset, cfg.fitness = "imagenet", "train"
    cfg.train.fraction, cfg.train.data_root, cfg.train.device = 0.5, str(root), "cpu"
    cfg = validate(cfg)
    monkeypatch.setattr(imf, "DEFAULT_CACHE", tmp_path / "default-cache")  # never write to ~/.cache in tests
    ev = build_evaluator(cfg, space=None)
    assert isinstance(ev, TrainingEvaluator) and ev.fraction == 0.5
    monkeypatch.setattr(ev, "resize", 16)
    s = ev.splits()
    assert s.input_shape == (3, 16, 16) and s.sizes()["train"] + s.sizes()["val"] == 10
    assert any((tmp_path / "default-cache").glob("*.npy"))

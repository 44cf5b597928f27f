"""Memory-mapped images (decoded ImageNet): splits stay on disk, batches are read on demand, training is unchanged."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from gptnas.evaluators.training import placement
from gptnas.datasets import make_splits
from gptnas.datasets.mapped import MappedImages
from gptnas.evaluators.training import TrainingEvaluator

from test_training import FAST, TinySpace, same


@pytest.fixture
def npy(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 3, 12, 12), dtype=np.uint8)
    y = rng.integers(0, 10, 300)
    # A learnable signal: the label shifts the first channel, so training beats chance.
    x[:, 0] = np.clip(x[:, 0].astype(int) // 4 + 20 * y[:, None, None], 0, 255).astype(np.uint8)
    path = tmp_path / "images.npy"
    np.save(path, x)
    return path, x, y


def test_rows_are_read_in_the_asked_order_and_pickles_carry_no_pixels(npy):
    path, x, _ = npy
    m = MappedImages.open(path)
    assert len(m) == 300 and tuple(m.shape) == x.shape and m.dtype == torch.uint8 and m.nbytes == x.nbytes
    idx = torch.tensor([7, 2, 299, 2])
    assert torch.equal(m[idx], torch.from_numpy(x[[7, 2, 299, 2]]))
    sub = m.take(np.array([10, 5, 20]))            # a selection of a selection: rows 10, 5, 20 of the file
    assert torch.equal(sub[[2, 0]], torch.from_numpy(x[[20, 10]]))
    assert torch.equal(sub.read(), torch.from_numpy(x[[10, 5, 20]]))
    assert len(pickle.dumps(m)) < x.nbytes / 20     # the path and row numbers, not the images
    assert torch.equal(pickle.loads(pickle.dumps(sub))[[1]], torch.from_numpy(x[[5]]))
    with pytest.raises(IndexError):
        MappedImages(path, rows=np.array([300]))


def test_only_a_whole_npy_memmap_is_kept_mapped(npy):
    path, x, _ = npy
    assert MappedImages.of(np.load(path, mmap_mode="c")) is not None
    assert MappedImages.of(np.load(path, mmap_mode="r")[5:]) is None   # a slice: rows would be misread
    assert MappedImages.of(x) is None


def test_splits_of_a_memmap_stay_on_disk_and_equal_the_in_memory_ones(npy):
    path, x, y = npy
    mem = make_splits("m", x, y, x[:50], y[:50], 10, val_fraction=0.2, seed=3)
    test_x = np.load(path, mmap_mode="c")   # the test split may be a second file; here the same one
    mapped = make_splits("m", np.load(path, mmap_mode="c"), y, test_x, y, 10, val_fraction=0.2, seed=3)
    assert mapped.mapped and not mem.mapped and isinstance(mapped.train[0], MappedImages)
    assert torch.equal(mapped.train[0].read(), mem.train[0]) and torch.equal(mapped.val[0].read(), mem.val[0])
    assert torch.equal(mapped.train[1], mem.train[1])
    assert mapped.mean == pytest.approx(mem.mean) and mapped.std == pytest.approx(mem.std)  # N < STATS_SAMPLE
    assert mapped.nbytes() == x.nbytes * 2 and mapped.input_shape == (3, 12, 12)
    # New pixels (a resize) mean an in-memory copy.
    assert not make_splits("m", np.load(path, mmap_mode="c"), y, x[:50], y[:50], 10, resize=8).mapped


def test_statistics_of_a_large_mapped_split_come_from_a_seeded_sample(npy, monkeypatch):
    import gptnas.datasets.splits as splits_mod

    path, x, y = npy
    monkeypatch.setattr(splits_mod, "STATS_SAMPLE", 100)
    a = make_splits("m", np.load(path, mmap_mode="c"), y, x[:50], y[:50], 10, val_fraction=0.2)
    b = make_splits("m", np.load(path, mmap_mode="c"), y, x[:50], y[:50], 10, val_fraction=0.2)
    exact = make_splits("m", x, y, x[:50], y[:50], 10, val_fraction=0.2)
    assert a.mean == b.mean and a.mean != exact.mean                       # seeded, and only a sample
    assert np.allclose(a.mean, exact.mean, atol=0.08) and np.allclose(a.std, exact.std, atol=0.08)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_streamed_training_equals_training_on_resident_data(npy, monkeypatch, num_workers):
    path, x, y = npy
    kw = dict(val_fraction=0.2, seed=0, augment=True)
    mem = make_splits("m", x, y, x[:60], y[:60], 10, **kw)
    mapped = make_splits("m", np.load(path, mmap_mode="c"), y, np.load(path, mmap_mode="c")[:60], y[:60], 10, **kw)
    assert mapped.mapped and isinstance(mapped.test[0], torch.Tensor)   # a sliced memmap is read in
    resident = TrainingEvaluator(TinySpace(), mem, **FAST).evaluate([0, 0])
    placed = []
    real_place = placement.DeviceData.place
    monkeypatch.setattr(placement.DeviceData, "place",
                        classmethod(lambda cls, s, d, r, test=True: placed.append(r) or real_place(s, d, r, test)))
    monkeypatch.setattr(placement, "fits", lambda nbytes, device: False)  # as if the images filled the device
    streamed = TrainingEvaluator(TinySpace(), mapped, **FAST, num_workers=num_workers).evaluate([0, 0])
    assert placed == [False]                       # streamed from the file, not copied to the device
    assert streamed.failed is None and same(streamed, resident)
    monkeypatch.setattr(placement, "fits", lambda nbytes, device: True)   # fits: read in and kept on the device
    placed.clear()
    assert same(TrainingEvaluator(TinySpace(), mapped, **FAST).evaluate([0, 0]), resident) and placed == [True]


def test_fits_compares_with_half_of_the_available_host_memory(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(placement, "host_available", lambda: 8 * 2**30)
    assert placement.fits(4 * 2**30, cpu) and not placement.fits(4 * 2**30 + 1, cpu)
    monkeypatch.setattr(placement, "host_available", lambda: None)   # unknown: treated like in-memory data
    assert placement.fits(2**60, cpu)
    monkeypatch.undo()
    assert placement.host_available() > 0


def test_placement_is_decided_once_not_per_evaluation(npy, monkeypatch):
    """Free memory shrinks once the data is on the device; asking again must not place (and copy) it twice."""
    path, x, y = npy
    mapped = make_splits("m", np.load(path, mmap_mode="c"), y, x[:60], y[:60], 10, val_fraction=0.2)
    answers = iter([True, False, False])
    monkeypatch.setattr(placement, "fits", lambda nbytes, device: next(answers))
    ev = TrainingEvaluator(TinySpace(), mapped, **FAST)
    first = ev.data()
    assert first.resident and ev.data() is first and ev.evaluate([0, 0]).failed is None and ev.data() is first


def test_chunked_copy_goes_through_one_small_buffer(npy):
    """The GPU copy path (exercised here with a CPU target): rows arrive a chunk at a time through one staging
    buffer, so the host never holds a second full copy of the split."""
    path, x, y = npy
    m = MappedImages.open(path)
    out = torch.empty(tuple(m.shape), dtype=m.dtype)
    row = out[0].numel()
    staging = torch.zeros(3 * row, dtype=torch.uint8)
    syncs = []
    placement.copy_in_chunks(m, out, staging, rows=3, sync=lambda: syncs.append(1))
    assert torch.equal(out, torch.from_numpy(np.asarray(x))) and len(syncs) == -(-len(out) // 3)
    labels = torch.as_tensor(y)
    out_y = torch.empty_like(labels)
    placement.copy_in_chunks(labels, out_y, torch.zeros(5 * 8, dtype=torch.uint8), rows=5)
    assert torch.equal(out_y, labels)


def test_the_test_split_is_placed_only_when_test_accuracy_is_reported():
    ev = TrainingEvaluator(TinySpace(), "digits", **{**FAST, "report_test": False})
    assert ev.data().test is None and ev.evaluate([0, 0]).test is None
    on = TrainingEvaluator(TinySpace(), "digits", **FAST)
    assert on.data().test is not None and on.evaluate([0, 0]).test is not None


def test_workers_sharing_a_host_each_count_only_their_share(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(placement, "host_available", lambda: 8 * 2**30)
    assert placement.fits(4 * 2**30, cpu)
    monkeypatch.setenv(placement.SHARERS_ENV, "4")
    assert not placement.fits(4 * 2**30, cpu) and placement.fits(2**30, cpu)

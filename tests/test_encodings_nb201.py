"""Every NAS-Bench-201 encoding conversion, checked on all 15,625 cells against the reference CSV and NATS meta."""
from __future__ import annotations

import bz2
import csv
import pickle

import pytest

from gptnas.encodings import nb201 as enc
from gptnas.errors import GptnasError, InvalidArchitecture

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def rows(nb201_dir):
    """(nb201_index, arch_str, naslib tuple text) for all 15,625 cells, sorted by index."""
    with open(nb201_dir / "nb201_extra.csv", newline="") as fh:
        out = [(int(r["nb201_index"]), r["arch_str"], r["naslib_op_indices"]) for r in csv.DictReader(fh)]
    assert len(out) == enc.NUM_ARCHS
    return sorted(out)


@pytest.fixture(scope="module")
def meta_archs(nb201_dir):
    with bz2.open(nb201_dir / "NATS-tss-v1_0-3ffb9-simple" / "meta.pickle.pbz2", "rb") as fh:
        return pickle.load(fh)["meta_archs"]


def test_csv_and_nats_meta_agree_on_the_index(rows, meta_archs):
    assert [r[0] for r in rows] == list(range(enc.NUM_ARCHS))
    assert [r[1] for r in rows] == list(meta_archs)


def test_string_roundtrip_all(rows):
    seen = set()
    for _, s, _ in rows:
        ops = enc.string_to_ops(s)
        assert enc.ops_to_string(ops) == s
        seen.add(ops)
    assert len(seen) == enc.NUM_ARCHS


def test_naslib_all(rows):
    for _, s, nas in rows:
        ops = enc.string_to_ops(s)
        t = enc.parse_naslib(nas)
        assert enc.ops_to_naslib(ops) == t
        assert enc.naslib_to_ops(t) == ops
        assert enc.parse_any(nas) == ops


def test_ncode_and_parse_any_all(rows):
    for _, s, _ in rows:
        ops = enc.string_to_ops(s)
        code = enc.ops_to_ncode(ops)
        assert len(code) == 6 and enc.ncode_to_ops(code) == ops
        assert enc.parse_any(code) == ops
        assert enc.parse_any(s) == ops
        assert enc.parse_any(f"  {s} ") == ops


def test_base5_code_all(rows):
    codes = set()
    for _, s, _ in rows:
        ops = enc.string_to_ops(s)
        c = enc.ops_to_int(ops)
        assert enc.int_to_ops(c) == ops
        codes.add(c)
    assert codes == set(range(enc.NUM_ARCHS))


def test_index_map_all(rows, meta_archs):
    from_meta = enc.IndexMap(meta_archs)
    from_csv = enc.IndexMap([s for _, s, _ in rows])
    assert from_meta.strings() == list(meta_archs) == from_csv.strings()
    for i, s, nas in rows:
        ops = enc.string_to_ops(s)
        assert from_meta.index(ops) == i
        assert from_meta.ops(i) == ops
        assert from_meta.index(enc.naslib_to_ops(enc.parse_naslib(nas))) == i


def test_ncode_example_from_the_issue(meta_archs):
    ops = enc.ncode_to_ops("333103")
    assert ops == (3, 3, 3, 1, 0, 3)
    assert enc.ops_to_string(ops) == EXAMPLE
    assert enc.ops_to_ncode(enc.string_to_ops(EXAMPLE)) == "333103"
    assert enc.parse_any("333103") == enc.parse_any(EXAMPLE)
    assert enc.IndexMap(meta_archs).index(ops) == meta_archs.index(EXAMPLE)


def test_readme_naslib_convention():
    # NASLib: edges (0→1),(0→2),(0→3),(1→2),(1→3),(2→3); ops 0=skip 1=none 2=conv3x3 3=conv1x1 4=pool.
    s = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert enc.ops_to_naslib(enc.string_to_ops(s)) == (4, 3, 3, 0, 0, 0)


@pytest.mark.parametrize("bad", [
    "",
    "|nor_conv_3x3~0|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|",          # 5 edges
    "|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",  # wrong source node
    "|conv_5x5~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",  # unknown op
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1||skip_connect~0|none~1|nor_conv_3x3~2|",  # missing +
    EXAMPLE + "+|none~0|",
    EXAMPLE.upper(),
])
def test_malformed_strings_raise(bad):
    with pytest.raises(InvalidArchitecture):
        enc.string_to_ops(bad)
    with pytest.raises(InvalidArchitecture):
        enc.parse_any(bad if bad else " ")


@pytest.mark.parametrize("call", [
    lambda: enc.ncode_to_ops("333105"),
    lambda: enc.ncode_to_ops("33310"),
    lambda: enc.parse_any("hello"),
    lambda: enc.parse_any("3331034"),
    lambda: enc.parse_naslib("(0, 1, 2)"),
    lambda: enc.parse_naslib("(0, 1, 2, 3, 4, 5)"),
    lambda: enc.parse_naslib("(a, b, c, d, e, f)"),
    lambda: enc.ops_to_string([0, 1, 2, 3, 4]),
    lambda: enc.ops_to_int([0, 1, 2, 3, 4, 7]),
    lambda: enc.int_to_ops(enc.NUM_ARCHS),
    lambda: enc.IndexMap([EXAMPLE] * enc.NUM_ARCHS),
])
def test_other_malformed_inputs_raise(call):
    with pytest.raises(InvalidArchitecture) as info:
        call()
    assert isinstance(info.value, GptnasError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_index_map_rejects_bad_index(meta_archs):
    m = enc.IndexMap(meta_archs)
    for bad in (-1, enc.NUM_ARCHS):
        with pytest.raises(InvalidArchitecture):
            m.ops(bad)

"""The NAS-Bench-101 space: validity and pruning, canonical keys, networks, layer sequences, enumeration."""
from __future__ import annotations

import ast
import itertools
import pickle
import random
from pathlib import Path

import pytest
import torch

from gptnas.encodings.layers import decode, encode, trace_layers
from gptnas.errors import InvalidArchitecture
from gptnas.spaces import END, SPACES, get_space
from gptnas.spaces import nb101
from gptnas.spaces.nb101 import EDGES, NB101Space

C3, C1, MP = 0, 1, 2


def genome(edges, ops=(0, 0, 0, 0, 0)) -> list[int]:
    """A genome from a set of ``(src, dst)`` edges of the 7-vertex matrix and the 5 interior ops."""
    return [int(e in set(edges)) for e in EDGES] + list(ops)


def chain(*vertices):
    return list(zip(vertices, vertices[1:]))


@pytest.fixture(scope="module")
def space():
    return NB101Space()


@pytest.fixture(scope="module")
def sampled(space):
    rng = random.Random(0)
    return [space.sample(rng) for _ in range(300)]


# Independent reference: pruning and isomorphism by brute force, written differently from the module ----------------
def ref_prune(matrix, labels):
    """``(kept vertices' matrix, labels)`` or None; reachability by repeated closure over all vertex pairs."""
    n = len(matrix)
    reach = [[bool(matrix[i][j]) or i == j for j in range(n)] for i in range(n)]
    for k in range(n):
        for i in range(n):
            for j in range(n):
                reach[i][j] = reach[i][j] or (reach[i][k] and reach[k][j])
    if not reach[0][n - 1]:
        return None
    keep = [v for v in range(n) if reach[0][v] and reach[v][n - 1]]
    return [[matrix[i][j] for j in keep] for i in keep], [labels[v - 1] for v in keep[1:-1]]


def ref_canonical(matrix, labels):
    """Smallest (sorted relabelled edge list, labels) over every order of the interior vertices."""
    n = len(matrix)
    edges = [(i, j) for i in range(n) for j in range(n) if matrix[i][j]]
    forms = []
    for perm in itertools.permutations(range(1, n - 1)):
        new = {0: 0, n - 1: n - 1, **{v: p for v, p in zip(range(1, n - 1), perm)}}
        lab = [None] * (n - 2)
        for v in range(1, n - 1):
            lab[new[v] - 1] = labels[v - 1]
        forms.append((n, tuple(sorted((new[i], new[j]) for i, j in edges)), tuple(lab)))
    return min(forms)


def ref_count(max_vertices: int, max_edges: int) -> int:
    """Unique valid cells of ``max_vertices`` vertices by brute force over all matrices and labellings."""
    n = max_vertices
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    seen = set()
    for bits in itertools.product((0, 1), repeat=len(pairs)):
        matrix = [[0] * n for _ in range(n)]
        for (i, j), b in zip(pairs, bits):
            matrix[i][j] = b
        pruned = ref_prune(matrix, list(range(1, n - 1)))  # labels = vertex ids, to know who survived
        if pruned is None or sum(map(sum, pruned[0])) > max_edges:
            continue
        pm, kept = pruned
        for lab in itertools.product(range(3), repeat=len(kept)):
            seen.add(ref_canonical(pm, lab))
    return len(seen)


# Validity and pruning ---------------------------------------------------------------------------------------------
def test_unreachable_output_is_invalid(space):
    g = genome([(0, 1), (1, 2), (3, 6), (4, 6)])  # 3 and 4 feed the output but nothing feeds them
    assert nb101.pruned_cell(g) is None and not space.is_valid(g)
    assert not space.is_valid(genome([]))
    with pytest.raises(InvalidArchitecture):
        space.key(g)
    tokens = [f"{name}={b}" for name, b in zip(nb101.EDGE_NAMES, g[:21])] + [f"v{t}=conv3x3" for t in range(1, 6)]
    with pytest.raises(InvalidArchitecture):
        space.from_tokens(tokens)
    with pytest.raises(InvalidArchitecture):
        space.to_tokens(g)


def test_more_than_nine_edges_after_pruning_is_invalid(space):
    nine = chain(0, 1, 2, 3, 4, 5, 6) + [(0, 6), (0, 2), (0, 3)]
    assert space.is_valid(genome(nine))
    assert not space.is_valid(genome(nine + [(0, 4)]))
    assert not space.is_valid(genome(EDGES))  # the full upper triangle: 21 edges


def test_dangling_vertices_are_pruned_before_counting_edges(space):
    # 0->1->6 plus 1->2, 1->3 and a tangle among 2..5 that never reaches the output: 10 edges, 2 after pruning.
    edges = [(0, 1), (1, 6), (1, 2), (1, 3)] + [(i, j) for i in range(2, 6) for j in range(i + 1, 6)]
    g = genome(edges, (C1, MP, MP, MP, MP))
    assert sum(g[:21]) == 10 and space.is_valid(g)
    assert nb101.pruned_cell(g) == ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], (C1,))
    # a vertex fed by the input that feeds nothing is pruned too: same cell as without it
    assert space.key(genome([(0, 1), (1, 6), (0, 4)], (C1, C3, C3, C3, C3))) == space.key(g)
    # an op on a pruned vertex does not matter; one on a kept vertex does
    assert space.key(genome(edges, (C1, C3, C3, C1, C1))) == space.key(g)
    assert space.key(genome(edges, (C3, MP, MP, MP, MP))) != space.key(g)


def test_official_example_cell_is_valid():
    # The example spec of the nasbench README (9 edges after pruning).
    matrix = [[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
              [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]]
    ops = [C1, C3, C3, C3, MP]
    g = nb101.spec_to_genome(matrix, ops)
    assert nb101.genome_matrix(g) == matrix and NB101Space().is_valid(g)
    assert nb101.num_edges(nb101.pruned_cell(g)[0]) == 9


def test_sampled_genomes_are_valid_and_agree_with_the_reference_pruning(space, sampled):
    assert len({tuple(g) for g in sampled}) > 290
    for g in sampled:
        assert space.is_valid(g) and len(g) == nb101.GENOME_LENGTH
        m, labels = nb101.pruned_cell(g)
        ref = ref_prune(nb101.genome_matrix(g), g[21:])
        assert (m, list(labels)) == (ref[0], ref[1])


# Canonical keys ---------------------------------------------------------------------------------------------------
def relabellings(g):
    """Every genome obtained by renumbering the interior vertices that keeps the matrix upper triangular."""
    m = nb101.genome_matrix(g)
    out = []
    for perm in itertools.permutations(range(1, 6)):
        new = (0,) + perm + (6,)
        edges = [(new[i], new[j]) for i, j in EDGES if m[i][j]]
        if all(a < b for a, b in edges):
            ops = [0] * 5
            for v in range(1, 6):
                ops[new[v] - 1] = g[20 + v]
            out.append(genome(edges, ops))
    return out


def test_key_is_invariant_under_renumbering_of_interior_vertices(space, sampled):
    moved = 0
    for g in sampled[:100]:
        k = space.key(g)
        for h in relabellings(g):
            assert space.key(h) == k
            moved += h != g
    assert moved > 100  # the check was not vacuous
    # two concrete isomorphic cells: the conv branch numbered first or second
    a = genome([(0, 1), (0, 2), (1, 6), (2, 6)], (C3, MP, 0, 0, 0))
    b = genome([(0, 1), (0, 2), (1, 6), (2, 6)], (MP, C3, 0, 0, 0))
    assert space.key(a) == space.key(b)
    assert space.key(a) != space.key(genome([(0, 1), (0, 2), (1, 6), (2, 6)], (C3, C3, 0, 0, 0)))


def test_keys_partition_cells_exactly_as_brute_force_isomorphism(space, sampled):
    rng = random.Random(5)
    pool = list(sampled)
    for g in sampled[:60]:  # add isomorphic copies and one-op variants so that both equal and unequal pairs occur
        pool.append(rng.choice(relabellings(g)))
        h = list(g)
        h[21 + rng.randrange(5)] = rng.randrange(3)
        pool.append(h if space.is_valid(h) else g)
    keys = {}
    refs = {}
    for g in pool:
        pm, labels = nb101.pruned_cell(g)
        keys.setdefault(space.key(g), set()).add(ref_canonical(pm, labels))
        refs.setdefault(ref_canonical(pm, labels), set()).add(space.key(g))
    assert all(len(v) == 1 for v in keys.values()) and all(len(v) == 1 for v in refs.values())
    assert len(keys) < len(pool)


def test_parse_reads_keys_and_tokens_back(space, sampled):
    for g in sampled[:100]:
        k = space.key(g)
        h = space.parse(k)
        assert space.is_valid(h) and space.key(h) == k
        assert space.parse(" ".join(space.to_tokens(g))) == g
        assert space.from_tokens(space.to_tokens(g)) == g
    assert space.parse("01/00:") == genome([(0, 6)])  # official op names are read too:
    assert space.key(space.parse("011/001/000:conv3x3-bn-relu")) == "011/001/000:conv3x3"
    eight = "/".join(["0" * 8] * 8) + ":" + ",".join(["conv3x3"] * 6)
    for bad in ("0110/0001:conv3x3", "011/001/000:conv5x5", "01/00:conv3x3", "hello", eight, "00/10:"):
        with pytest.raises(InvalidArchitecture):
            space.parse(bad)
    with pytest.raises(InvalidArchitecture):
        space.parse("010/000/000:conv3x3")  # output unreachable


# Grammar and operators ------------------------------------------------------------------------------------------
def test_grammar_walks_only_to_valid_cells_and_allows_every_valid_one(space, sampled):
    rng = random.Random(3)
    for _ in range(100):
        prefix = []
        while True:
            options = space.next_tokens(prefix)
            if options == [END]:
                break
            prefix.append(rng.choice(options))
        assert space.is_valid(space.from_tokens(prefix))
    for g in sampled[:30]:
        tokens = space.to_tokens(g)
        assert all(t in space.next_tokens(tokens[:i]) for i, t in enumerate(tokens))
        assert space.next_tokens(tokens) == [END]
    # after e01=0 .. e05=0 (no path through 1..5 can start), the direct edge e06 is forced
    assert space.next_tokens([f"e0{j}=0" for j in range(1, 6)]) == ["e06=1"]


def test_mutation_gives_a_different_valid_cell(space, sampled):
    rng = random.Random(4)
    for g in sampled[:100]:
        child = space.mutate(g, rng)
        assert space.is_valid(child) and space.key(child) != space.key(g)
    a, b = space.crossover(sampled[0], sampled[1], rng)
    assert space.is_valid(a) and space.is_valid(b)


def test_registered_and_module_imports_stay_light():
    assert SPACES["nb101"] is NB101Space and isinstance(get_space("nb101"), NB101Space)
    # torch and numpy only inside functions (or modules.py, the torch modules a built network imports), so that
    # importing the space costs nothing
    for path in Path(nb101.__file__).parent.glob("*.py"):
        if path.name == "modules.py":
            continue
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name.split(".")[0] for n in top for a in n.names} | {(n.module or "").split(".")[0] for n in top
                                                                        if isinstance(n, ast.ImportFrom)}
        assert top and not names & {"torch", "numpy"}, path
    import subprocess
    import sys
    code = ("import sys, gptnas.spaces.nb101 as n; from gptnas.spaces import get_space; get_space('nb101'); "
            "n.layer_tokens; assert 'torch' not in sys.modules; n.NB101Network; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# Networks -----------------------------------------------------------------------------------------------------------
SPECIAL = [genome([(0, 6)]),  # input -> output only: the cell is one projection
           genome([(0, 1), (1, 6), (0, 6)], (MP, 0, 0, 0, 0)),  # a vertex plus the projected input added
           # the widest split NB101 allows: 4 vertices feed the output (5 would need 10 edges)
           genome([(0, 1), (1, 2), (1, 3), (1, 4), (1, 5), (2, 6), (3, 6), (4, 6), (5, 6)], (C1, C3, MP, C3, C1))]


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8), (3, 16, 16), (3, 9, 9)])
def test_networks_run_forward(space, sampled, shape):
    torch.manual_seed(0)
    for g in SPECIAL + sampled[:3]:
        net = nb101.build_network(g, shape, num_classes=7, stem_channels=16)
        out = net(torch.randn(2, *shape))
        assert out.shape == (2, 7) and torch.isfinite(out).all()
    assert space.to_module(sampled[0], (3, 32, 32), 10)(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_vertex_channels_split_the_output_like_the_official_builder():
    four_way = nb101.pruned_cell(SPECIAL[2])[0]
    assert nb101.compute_vertex_channels(16, 30, four_way) == [16, 8, 8, 8, 7, 7, 30]
    # a vertex that does not feed the output takes the width of its widest successor
    m = [[0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert nb101.compute_vertex_channels(8, 8, m) == [8, 8, 8, 8]
    m = [[0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    assert nb101.compute_vertex_channels(8, 9, m) == [8, 5, 5, 4, 9]
    with pytest.raises(ValueError):
        nb101.compute_vertex_channels(4, 3, four_way)


def test_isomorphic_genomes_build_the_same_network(sampled):
    for g in sampled[:20]:
        h = relabellings(g)[-1]
        a = nb101.build_network(g, (3, 8, 8), stem_channels=8)
        b = nb101.build_network(h, (3, 8, 8), stem_channels=8)
        b.load_state_dict(a.state_dict())
        x = torch.randn(2, 3, 8, 8)
        assert torch.equal(a.eval()(x), b.eval()(x))


def test_network_pickles(sampled):
    net = nb101.build_network(sampled[0], (3, 8, 8), stem_channels=8)
    clone = pickle.loads(pickle.dumps(net))
    assert type(clone) is nb101.NB101Network and len(clone.cells) == len(net.cells)


# Layer sequences ----------------------------------------------------------------------------------------------------
def test_layer_text_round_trip_on_sampled_cells(sampled):
    for g in sampled[:50]:
        layers = nb101.network_layers(g)
        line = encode(layers)
        assert decode(line) == layers and encode(decode(line)) == line
        assert nb101.layer_texts(g) == line.split()
        assert nb101.layer_tokens(g) == [layer.token() for layer in layers]


def test_fast_layers_equal_a_meta_trace_and_a_real_trace(sampled):
    for g in SPECIAL[:2] + sampled[:3]:
        for shape, kw in (((3, 32, 32), {}), ((1, 9, 9), {"stem_channels": 16, "num_classes": 3})):
            assert nb101.network_layers(g, shape, **kw) == nb101.trace_network_layers(g, shape, **kw)
    for g in (SPECIAL[2], sampled[0]):  # real tensors: small stem keeps the forward cheap
        net = nb101.build_network(g, (3, 32, 32), stem_channels=16)
        assert trace_layers(net, (3, 32, 32)) == nb101.network_layers(g, (3, 32, 32), stem_channels=16)


def test_layer_sequence_reflects_the_cell(sampled):
    for g in SPECIAL + sampled[:20]:
        m, labels = nb101.pruned_cell(g)
        n = len(m)
        convs_per_cell = sum(o != MP for o in labels) + sum(m[0][1:])  # vertex convs, projections (incl. output)
        pools_per_cell = sum(o == MP for o in labels)
        layers = nb101.network_layers(g)
        assert sum(x.kind == "Conv" for x in layers) == 1 + 9 * convs_per_cell
        assert sum(x.kind == "Pool" for x in layers) == 2 + 1 + 9 * pools_per_cell  # + downsamplings + global
        assert [x.kind for x in layers[-2:]] == ["Pool", "FC"] and layers[-1].out_features == 10
        assert layers[0].out_size[2] == 128 and layers[-1].in_features == 512 and n >= 2
    iso = relabellings(sampled[0])
    assert all(nb101.layer_tokens(h) == nb101.layer_tokens(sampled[0]) for h in iso)


def test_corpus_is_deterministic_and_distinct():
    a = nb101.nb101_corpus(15, seed=1)
    assert a == nb101.nb101_corpus(15, seed=1) and a != nb101.nb101_corpus(15, seed=2)
    assert len(a) == 15 and all(isinstance(t, str) for seq in a for t in seq)
    rng, space, first = random.Random(1), NB101Space(), {}
    while len(first) < 15:  # the corpus is the first 15 distinct cells of the same draw
        g = space.sample(rng)
        first.setdefault(space.key(g), g)
    assert a == [nb101.layer_tokens(g) for g in first.values()]
    with pytest.raises(ValueError):
        nb101.nb101_corpus(nb101.NUM_UNIQUE_CELLS + 1)


# Enumeration --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_vertices,max_edges", [(4, 9), (5, 9), (5, 5)])
def test_enumeration_matches_brute_force_on_smaller_cells(max_vertices, max_edges):
    cells = list(nb101.enumerate_unique(max_vertices, max_edges))
    assert len(cells) == nb101.count_unique(max_vertices, max_edges) == ref_count(max_vertices, max_edges)
    forms = set()
    for ops, matrix in cells:
        labels = tuple(nb101.OPS.index(o) for o in ops[1:-1])
        assert ops[0] == "input" and ops[-1] == "output"
        assert nb101.canonical(matrix, labels) == (matrix, labels)  # yielded in key form
        assert ref_prune(matrix, labels)[0] == matrix and nb101.num_edges(matrix) <= max_edges
        forms.add(ref_canonical(matrix, labels))
    assert len(forms) == len(cells)


def test_enumerated_cells_of_six_vertices_are_canonical():
    cells = [c for c in nb101.enumerate_unique(6) if len(c[0]) == 6]
    rng = random.Random(6)
    for ops, matrix in rng.sample(cells, 300):
        labels = tuple(nb101.OPS.index(o) for o in ops[1:-1])
        assert nb101.canonical(matrix, labels) == (matrix, labels)


@pytest.mark.slow
def test_count_of_unique_cells_is_the_published_one():
    assert nb101.count_unique() == nb101.NUM_UNIQUE_CELLS == 423_624
    assert sum(1 for _ in nb101.enumerate_unique()) == 423_624

"""BrainScaleS-2 mapping (issue 13, item 1): 512 neurons, 256 x 256 synapse arrays per half, signed
inputs on excitatory/inhibitory row pairs, 6-bit labels (at most 64 sources share a row); a network
that does not fit is refused naming the limit; the report says rows, columns and labels used."""

import numpy as np
import pytest

from ostl.cells import make_cell
from ostl.errors import ParameterError
from ostl.hardware.brainscales2 import mapping as bss2
from ostl.network import Layer, Network, Readout


def network(n_in, n, n_out, recurrent=False):
    return Network(n_in, [Layer(n, make_cell({"kind": "lif"}), recurrent=recurrent)], Readout(n_out, leak=0.8))


def test_a_pattern_generation_network_fits_with_shared_rows():
    mapping = bss2.map_network(network(50, 64, 3, recurrent=True))
    # the neurons are spread over both halves; in each, 50 inputs + 64 recurrent sources reach every
    # hidden column: 114 row pairs; the readout's 64 sources reach other columns and share those
    # rows under their own labels
    assert mapping.halves[0] == {"rows": 228, "columns": 34, "labels": 2}
    assert mapping.halves[1] == {"rows": 228, "columns": 33, "labels": 2}
    assert "half 0: rows 228/256, columns 34/256, labels up to 2/64" in mapping.report()


def test_neurons_spread_over_both_halves():
    placements = bss2.place_columns([("hidden", 300), ("readout", 10)])
    assert placements["hidden"].blocks == [(0, 0, 150), (1, 0, 150)]
    assert placements["readout"].blocks == [(0, 150, 5), (1, 150, 5)]
    placements = bss2.place_columns([("hidden", 500), ("readout", 12)])
    assert sum(c for _, _, c in placements["readout"].blocks) == 12
    with pytest.raises(ParameterError, match="needs 520 neuron circuits"):
        bss2.map_network(network(10, 500, 20))


@pytest.mark.parametrize("args, message", [
    ((10, 500, 20), "needs 520 neuron circuits .* BrainScaleS-2 has 512"),
    ((100, 100, 3, True), "needs 400 synapse rows: a column receives 199 sources.*at most 128 sources per column"),
    ((20, 300, 20), "receives 300 sources"),
])
def test_what_does_not_fit_is_refused_naming_the_limit(args, message):
    with pytest.raises(ParameterError, match=message):
        bss2.map_network(network(*args))


def test_labels_let_up_to_64_sources_share_a_row_and_no_more():
    # 200 sources, each reaching one column of its own: they share rows, 64 at most per row
    connectivity = np.zeros((200, 200), dtype=bool)
    np.fill_diagonal(connectivity, True)
    rows = bss2.pack_rows(connectivity)
    assert [len(r) for r in rows] == [64, 64, 64, 8]
    # two sources that reach the same column never share a row
    dense = np.ones((5, 3), dtype=bool)
    assert bss2.pack_rows(dense) == [[0], [1], [2]]
    with pytest.raises(ParameterError, match="65 sources share a synapse row; .* 6-bit address labels tell at most 64"):
        bss2.check_row(list(range(65)))

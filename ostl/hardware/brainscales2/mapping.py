"""BrainScaleS-2 mapping (issue 13, item 1): where a network's neurons and synapses go on the chip,
and what does not fit.

Neurons are spread evenly over the two halves, so that both halves' plasticity processors share
the synapses (each has 16 KiB for their state).

The chip (``../shared/notes/hardware.md``, BrainScaleS-2 section; read in libnux and the
BrainScaleS-2 demos): 512 neuron circuits in two halves of 256 columns; one synapse array of
256 rows x 256 columns per half; a synapse holds a **6-bit unsigned weight** (0..63) and a
**6-bit address label**; the **sign is a property of a row** (its synapse driver is excitatory or
inhibitory). A presynaptic source sends its spikes, tagged with its label, to rows; a synapse
responds to the events of the row whose label matches its own, so one synapse serves one source
and a column can receive at most one source per row.

Mapping of one projection (``m`` sources, signed weights that may change sign while learning):
rows come in pairs, **one excitatory and one inhibitory**, so a synapse of the right sign exists
for every weight whatever its sign becomes. Sources share a row pair when no column needs two of
them (first fit, in source order), each with its own label, at most 64 per row; a dense layer
therefore needs a row pair per source, a sparse one fewer. Limits, each refused with its name: at
most 512 neurons (256 per half: hidden and readout together), at most 256 rows per half (so at
most 128 dense sources per column), at most 64 sources sharing a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ParameterError

NEURONS = 512
HALVES = 2
COLUMNS_PER_HALF = 256
ROWS_PER_HALF = 256
WEIGHT_BITS = 6
WEIGHT_MAX = (1 << WEIGHT_BITS) - 1
LABEL_BITS = 6
SOURCES_PER_ROW = 1 << LABEL_BITS


@dataclass
class Placement:
    """Where one population's neurons went: ``(half, first column, count)`` blocks."""

    name: str
    size: int
    blocks: list = field(default_factory=list)


@dataclass
class Mapping:
    """The rows, columns and labels a network uses (see :func:`map_network`)."""

    populations: dict
    #: per half: {"rows": rows used, "columns": columns used, "labels": largest label used + 1}
    halves: list
    #: per projection name: (sources, {half: rows})
    projections: dict

    def report(self):
        """One line per half, and per projection."""
        lines = []
        for index, half in enumerate(self.halves):
            lines.append(f"half {index}: rows {half['rows']}/{ROWS_PER_HALF}, columns {half['columns']}/"
                         f"{COLUMNS_PER_HALF}, labels up to {half['labels']}/{SOURCES_PER_ROW}")
        for name, (sources, rows) in self.projections.items():
            where = ", ".join(f"half {half}: {count}" for half, count in rows.items())
            lines.append(f"{name}: {sources} sources on rows ({where}; excitatory and inhibitory pairs, shared "
                         "with other projections where their columns differ)")
        return "\n".join(lines)


def place_columns(populations):
    """Columns for each population, spread evenly over the two halves (so both plasticity
    processors share the synapses; a half takes the larger part of an odd count first)."""
    placements, used = {}, [0, 0]
    for name, size in populations:
        placement = Placement(name, size)
        shares = [(size + 1) // 2, size // 2] if used[0] <= used[1] else [size // 2, (size + 1) // 2]
        for half, share in enumerate(shares):
            share = min(share, COLUMNS_PER_HALF - used[half])
            if share:
                placement.blocks.append((half, used[half], share))
                used[half] += share
        left = size - sum(count for _, _, count in placement.blocks)
        for half in range(HALVES):   # what did not fit its share goes where there is room
            extra = min(left, COLUMNS_PER_HALF - used[half])
            if extra:
                placement.blocks.append((half, used[half], extra))
                used[half] += extra
                left -= extra
        placements[name] = placement
    return placements


def pack_rows(connectivity):
    """First-fit packing of sources onto rows: ``connectivity`` (columns, sources) bool. Returns a
    list of rows, each a list of source indices (their labels are their positions): no column
    receives two sources of one row, at most 64 sources per row."""
    rows, used = [], []
    for source in range(connectivity.shape[1]):
        columns = connectivity[:, source]
        if not columns.any():
            continue
        for row, taken in zip(rows, used):
            if len(row) < SOURCES_PER_ROW and not (taken & columns).any():
                row.append(source)
                taken |= columns
                break
        else:
            rows.append([source])
            used.append(columns.copy())
    return rows


def check_row(sources):
    """A row's sources must have distinct 6-bit labels: at most 64."""
    if len(sources) > SOURCES_PER_ROW:
        raise ParameterError(f"{len(sources)} sources share a synapse row; its synapses' 6-bit address labels tell "
                             f"at most {SOURCES_PER_ROW} apart")


def map_network(network):
    """The mapping of an ostl network of one hidden layer (input -> hidden, hidden -> hidden if
    recurrent, hidden -> readout). Raises a ParameterError naming the limit it breaks."""
    if len(network.layers) != 1:
        raise ParameterError(f"the BrainScaleS-2 backend maps one hidden layer, got {len(network.layers)}")
    layer = network.layers[0]
    total = layer.size + network.n_out
    if total > NEURONS:
        raise ParameterError(f"the network needs {total} neuron circuits ({layer.size} hidden + {network.n_out} "
                             f"readout); BrainScaleS-2 has {NEURONS}")
    placements = place_columns([("hidden", layer.size), ("readout", network.n_out)])
    projections = {"input": ("input", network.n_in, "hidden")}
    if layer.recurrent:
        projections["recurrent"] = ("hidden", layer.size, "hidden")
    projections["readout"] = ("hidden", layer.size, "readout")
    import numpy as np

    connectivity = {"input": np.ones((layer.size, network.n_in), dtype=bool),
                    "readout": np.ones((network.n_out, layer.size), dtype=bool)}
    if layer.recurrent:
        connectivity["recurrent"] = layer.recurrent_mask().astype(bool)
    halves = [{"rows": 0, "columns": 0, "labels": 0} for _ in range(HALVES)]
    rows_of = {name: (sources, {}) for name, (_, sources, _) in projections.items()}
    for half in range(HALVES):
        # every (projection, source) with the columns it reaches in this half, packed jointly: sources
        # of different projections share rows when their columns differ (input -> hidden and
        # hidden -> readout, say)
        columns = np.zeros((COLUMNS_PER_HALF, 0), dtype=bool)
        owners = []
        for name, (_, sources, target) in projections.items():
            block = np.zeros((COLUMNS_PER_HALF, sources), dtype=bool)
            offset = 0
            for block_half, first, count in placements[target].blocks:
                if block_half == half:
                    block[first:first + count] = connectivity[name][offset:offset + count]
                offset += count
            if block.any():
                columns = np.concatenate([columns, block], axis=1)
                owners += [name] * sources
        halves[half]["columns"] = sum(count for p in placements.values() for h, _, count in p.blocks if h == half)
        if not columns.shape[1]:
            continue
        rows = pack_rows(columns)
        for row in rows:
            check_row(row)
            for name in {owners[source] for source in row}:
                counts = rows_of[name][1]
                counts[half] = counts.get(half, 0) + 2
        halves[half]["rows"] = 2 * len(rows)
        halves[half]["labels"] = max(len(row) for row in rows)
        if halves[half]["rows"] > ROWS_PER_HALF:
            fan_in = int(columns.sum(axis=1).max())
            raise ParameterError(f"half {half} of the chip needs {halves[half]['rows']} synapse rows: a column "
                                 f"receives {fan_in} sources, each needing an excitatory and an inhibitory row, and "
                                 f"a synapse array has {ROWS_PER_HALF} rows (at most {ROWS_PER_HALF // 2} sources "
                                 f"per column; up to {SOURCES_PER_ROW} sources share a row by their 6-bit labels "
                                 "when no column needs two of them)")
    return Mapping(placements, halves, rows_of)

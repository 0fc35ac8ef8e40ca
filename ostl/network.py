"""Network structure of the reference engine: stateful layers of cells, stateless
dense layers, and a readout with its loss.

A :class:`Network` is a stack ``x -> layer 0 -> ... -> layer k-1 -> readout``. Its
parameters live in a plain ``dict`` (name -> float64 array) so that rules, optimisers,
checkpoints and the simulator plugins all speak about the same named arrays:

=======================  ==============  ========================================
name                     shape           meaning
=======================  ==============  ========================================
``layer{l}.W``           (n_l, n_{l-1})  feed-forward weights into layer ``l``
``layer{l}.H``           (n_l, n_l)      recurrent weights (recurrent layers only)
``layer{l}.bias``        (n_l,)          SNU bias ``b`` (trainable by default)
``layer{l}.threshold``   (n_l,)          soft-reset SNU threshold ``b``
``layer{l}.b``           (n_l,)          dense-layer bias
``readout.W``            (n_out, n_k)    readout weights ``W_out``
``readout.b``            (n_out,)        readout bias (optional)
=======================  ==============  ========================================

One time step (OSTL Algorithm 1 order): every layer in turn from the input upward
(layer ``l`` sees ``y_{l-1}^t`` of the same step and its own ``y_l^{t-1}``), then the
readout, then the loss ``E^t``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activations import make_activation
from .cells import Cell, make_cell
from .errors import ParameterError
from .gated import GatedLayer
from .layer_step import LayerStep
from .ops import NUMPY
from .registry import Registry, Specified
from .validation import check_array, check_choice, check_int, check_unit_interval_open


class Layer(Specified):
    """A layer of ``size`` stateful cells.

    Parameters
    ----------
    size : int
    cell : Cell or spec (``'snu'``, ``{'kind': 'alif', 'tau_a': 500}``, ...)
    recurrent : bool
        adds the recurrent matrix ``H`` (``y^{t-1} -> s^t``).
    train_neuron_param : bool
        train the per-neuron parameter of the cell (SNU bias, soft-reset threshold).
    autapses : bool or None
        allow ``H[j, j] != 0``; default from the cell (SNU: yes, LIF/ALIF: no).
    """

    kind = "cell"
    spec_key, spec_kind = "type", "layer"
    stateful = True

    def __init__(self, size, cell="snu", recurrent=False, train_neuron_param=True, autapses=None):
        self.size = check_int("layer size", size, minimum=1)
        self.cell: Cell = make_cell(cell)
        self.recurrent = bool(recurrent)
        self.train_neuron_param = bool(train_neuron_param) and self.cell.neuron_param is not None
        self.autapses = self.cell.default_autapses if autapses is None else bool(autapses)

    def param_shapes(self, prefix, n_pre):
        """The shapes of the layer's parameters: ``W``, ``H`` if recurrent, the neuron parameter if trained."""
        shapes = {f"{prefix}.W": (self.size, n_pre)}
        if self.recurrent:
            shapes[f"{prefix}.H"] = (self.size, self.size)
        if self.train_neuron_param:
            shapes[f"{prefix}.{self.cell.neuron_param}"] = (self.size,)
        return shapes

    def neuron_param(self, params, prefix):
        """The neuron parameter's array in ``params`` (the cell's default when not trained; None if the cell has
        none)."""
        if self.cell.neuron_param is None:
            return None
        key = f"{prefix}.{self.cell.neuron_param}"
        if key in params:
            return params[key]
        return self.cell.neuron_param_default()

    def recurrent_mask(self):
        """Mask of allowed entries of ``H`` (zero diagonal without autapses)."""
        mask = np.ones((self.size, self.size))
        if not self.autapses:
            np.fill_diagonal(mask, 0.0)
        return mask

    def initial_carry(self, ops):
        """The carry before the first step: the cells' initial state and a zero output."""
        return self.cell.initial_state(ops, self.size), ops.zeros(self.size)

    def feed(self, ops, params, prefix, x):
        """The feed-forward input ``W x^t`` (a block evaluator forms it for many steps at once)."""
        return ops.matvec(params[f"{prefix}.W"], x)

    def step_inputs(self, params, prefix):
        """What a step reads from the parameters besides ``W``: ``(H or None, neuron
        parameter)`` (a block evaluator reads them once per block)."""
        return (params[f"{prefix}.H"] if self.recurrent else None), self.neuron_param(params, prefix)

    def advance(self, ops, carry, feed, recurrent_weights, neuron_param):
        """One step of the layer from its feed-forward input ``feed = W x^t``: the synaptic
        input ``I^t = feed + H y^{t-1}`` and the cell update. The one place a stateful
        layer's step is orchestrated (the step-by-step learner, the block evaluator, the
        forward pass and the BPTT oracle all call it). Returns ``(carry, LayerStep)``."""
        state_prev, y_prev = carry
        current = feed if recurrent_weights is None else feed + ops.matvec(recurrent_weights, y_prev)
        state, y = self.cell.step(ops, state_prev, y_prev, current, neuron_param)
        # tuple.__new__: the record without NamedTuple's argument handling (a hot path)
        return (state, y), tuple.__new__(LayerStep, (y, state_prev, y_prev, current, neuron_param, state))

    def step(self, ops, params, prefix, carry, x):
        """One step from the input ``x``: returns ``(carry, LayerStep)``."""
        return self.advance(ops, carry, self.feed(ops, params, prefix, x), *self.step_inputs(params, prefix))


class Dense(Specified):
    """A stateless layer ``y = phi(W x + b)`` (OSTL S4)."""

    kind = "dense"
    spec_key, spec_kind = "type", "dense"
    stateful = False
    recurrent = False

    def __init__(self, size, activation="relu", bias=True):
        self.size = check_int("layer size", size, minimum=1)
        self.activation = make_activation(activation, "dense activation")
        self.bias = bool(bias)

    def param_shapes(self, prefix, n_pre):
        """The shapes of the layer's parameters: ``W`` and ``b`` if it has a bias."""
        shapes = {f"{prefix}.W": (self.size, n_pre)}
        if self.bias:
            shapes[f"{prefix}.b"] = (self.size,)
        return shapes

    def initial_carry(self, ops):
        """No carry: the layer keeps no state."""
        return None

    def feed(self, ops, params, prefix, x):
        """The feed-forward input ``W x``."""
        return ops.matvec(params[f"{prefix}.W"], x)

    def step_inputs(self, params, prefix):
        """``(b or None, None)``: what a step reads besides ``W``."""
        return (params[f"{prefix}.b"] if self.bias else None), None

    def advance(self, ops, carry, feed, bias, neuron_param=None):
        """One step from ``feed = W x^t``: ``y = phi(feed + b)``. Returns ``(None, LayerStep)``
        with the preactivation as ``current``."""
        pre = feed if bias is None else feed + bias
        return None, LayerStep(self.activation.value(ops, pre), current=pre)

    def step(self, ops, params, prefix, carry, x):
        """One step from the input ``x``: returns ``(None, LayerStep)``."""
        return self.advance(ops, carry, self.feed(ops, params, prefix, x), *self.step_inputs(params, prefix))


LOSS_OF_ACTIVATION = {"linear": "mse", "sigmoid": "bce", "softmax": "ce"}


class Readout(Specified):
    """Output layer and loss.

    ``a^t = leak * a^{t-1} + W_out y^t + b_out`` (``leak = 0``: stateless readout;
    ``leak = kappa`` in (0, 1): e-prop's leaky readout, eq. 41, and OSTTP's leaky
    integrator), followed by the activation and its canonical loss:

    ============  ============================================  =====================
    activation    loss E^t                                      name
    ============  ============================================  =====================
    ``linear``    ``0.5 * |a^t - y*^t|^2``                      MSE (OSTL eq. 17)
    ``sigmoid``   ``-sum y* log s(a) + (1-y*) log(1-s(a))``     binary cross-entropy
    ``softmax``   ``-sum y* log softmax(a)``                    softmax cross-entropy
    ============  ============================================  =====================

    For all three, ``dE^t/da^t = output^t - y*^t``. The total loss is
    ``E = sum_t m^t E^t`` with an optional per-step mask ``m^t >= 0``.
    """

    spec_key = None

    def __init__(self, size, activation="linear", leak=0.0, bias=True):
        self.size = check_int("readout size", size, minimum=1)
        self.activation = check_choice("readout activation", activation, set(LOSS_OF_ACTIVATION))
        self.leak = check_unit_interval_open("readout leak", leak)
        self.bias = bool(bias)

    @property
    def loss(self):
        """The loss of the activation: ``mse``, ``bce`` or ``ce``."""
        return LOSS_OF_ACTIVATION[self.activation]

    def param_shapes(self, n_pre):
        """The shapes of the readout's parameters: ``readout.W`` and ``readout.b`` if it has a bias."""
        shapes = {"readout.W": (self.size, n_pre)}
        if self.bias:
            shapes["readout.b"] = (self.size,)
        return shapes

    def initial_carry(self, ops):
        """The potential before the first step: zeros."""
        return ops.zeros(self.size)

    def potential(self, ops, params, a_prev, y):
        """``a^t = leak a^{t-1} + W_out y^t + b_out``."""
        a = ops.matvec(params["readout.W"], y)
        if self.bias:
            a = a + params["readout.b"]
        if self.leak:
            a = a + self.leak * a_prev
        return a

    def output(self, ops, a):
        """The activation of the potential ``a``: identity, sigmoid or softmax."""
        if self.activation == "linear":
            return a
        if self.activation == "sigmoid":
            return ops.sigmoid(a)
        return ops.softmax(a)

    def loss_value(self, ops, a, target):
        """The step's loss ``E^t`` of the potential ``a`` against ``target``."""
        if self.activation == "linear":
            diff = a - target
            return 0.5 * ops.sum(diff * diff)
        if self.activation == "sigmoid":
            return -ops.sum(target * ops.log_sigmoid(a) + (1.0 - target) * ops.log_sigmoid(-a))
        return -ops.sum(target * ops.log_softmax(a))


@dataclass
class ForwardResult:
    """Outputs of a forward pass over ``T`` steps (NumPy arrays)."""

    loss: float
    outputs: np.ndarray  # (T, n_out) readout output (after activation)
    potentials: np.ndarray  # (T, n_out) readout potential a^t
    layer_outputs: list = field(default_factory=list)  # per layer (T, n_l)
    layer_states: list = field(default_factory=list)  # per stateful layer (T, n_l, d), None for dense
    step_losses: np.ndarray = None  # (T,) m^t E^t


class Network(Specified):
    """``x -> layers -> readout`` with named parameters (see module docstring)."""

    spec_key = None

    def __init__(self, n_in, layers, readout):
        self.n_in = check_int("n_in", n_in, minimum=1)
        self.layers = [_make_layer(layer) for layer in layers]
        if not isinstance(readout, Readout):
            if isinstance(readout, dict):
                readout = Readout(**readout)
            else:
                raise ParameterError(f"readout must be a Readout or a dict, got {readout!r}")
        self.readout = readout

    # -- structure ---------------------------------------------------------------------
    @staticmethod
    def prefix(index):
        """The parameter-name prefix of hidden layer ``index`` (``layer0``, ...)."""
        return f"layer{index}"

    def layer_sizes(self):
        """``[n_in, n_0, ..., n_{k-1}]``."""
        return [self.n_in] + [layer.size for layer in self.layers]

    @property
    def n_out(self):
        """The number of readouts."""
        return self.readout.size

    @classmethod
    def from_spec(cls, spec):
        """The network of a spec (:meth:`spec`)."""
        return cls(spec["n_in"], spec["layers"], Readout(**spec["readout"]))

    def param_shapes(self):
        """``{name: shape}`` of every parameter, layer by layer, then the readout's."""
        shapes = {}
        n_pre = self.n_in
        for index, layer in enumerate(self.layers):
            shapes.update(layer.param_shapes(self.prefix(index), n_pre))
            n_pre = layer.size
        shapes.update(self.readout.param_shapes(n_pre))
        return shapes

    def stateful_indices(self):
        """The indices of the layers that keep a state."""
        return [i for i, layer in enumerate(self.layers) if layer.stateful]

    def masks(self):
        """Connectivity masks (1 = trainable entry). Only recurrent layers without
        autapses have one; parameters not listed are dense."""
        masks = {}
        for index, layer in enumerate(self.layers):
            if layer.stateful and layer.recurrent and not layer.autapses:
                masks[f"{self.prefix(index)}.H"] = layer.recurrent_mask()
        return masks

    # -- parameters ---------------------------------------------------------------------
    def init_params(self, seed=0, weight_scale=1.0, recurrent_scale=None, readout_scale=None, neuron_param=None):
        """Gaussian weights ``N(0, scale^2 / fan_in)`` (readout weights also times
        ``1 - leak``); per-neuron parameters at the cell defaults, or at ``neuron_param``
        (e.g. a negative SNU bias, so that sigmoid SNUs start below half activation)."""
        rng = np.random.default_rng(seed)
        params = {}
        recurrent_scale = weight_scale if recurrent_scale is None else recurrent_scale
        readout_scale = weight_scale if readout_scale is None else readout_scale
        for name, shape in self.param_shapes().items():
            kind = name.split(".")[-1].split("_")[0]   # W, H, or W_<gate> / H_<gate> of a gated layer
            if kind in ("W", "H"):
                scale = recurrent_scale if kind == "H" else weight_scale
                if name.startswith("readout"):
                    # a leaky readout sums ~1/(1 - leak) steps: keep its steady-state gain
                    scale = readout_scale * (1.0 - self.readout.leak)
                params[name] = rng.normal(0.0, scale / np.sqrt(shape[1]), size=shape)
            else:
                index = name.split(".")[0]
                default = 0.0
                if index.startswith("layer"):
                    layer = self.layers[int(index[5:])]
                    if layer.kind == "gated":   # gate biases 0, the LSTM's forget gate 1 (remember at first)
                        default = 1.0 if name.endswith(".b_forget") else 0.0
                    elif layer.stateful:
                        default = layer.cell.neuron_param_default() if neuron_param is None else neuron_param
                params[name] = np.full(shape, float(default))
        for name, mask in self.masks().items():
            params[name] = params[name] * mask
        return params

    def check_params(self, params, name="params"):
        """Validate names and shapes (and finiteness) of a parameter dict; returns a
        float64 copy. Raises ParameterError naming the offending entry."""
        if not isinstance(params, dict):
            raise ParameterError(f"{name} must be a dict of arrays, got {type(params).__name__}")
        shapes = self.param_shapes()
        missing = sorted(set(shapes) - set(params))
        if missing:
            raise ParameterError(f"{name} is missing {', '.join(missing)}")
        unknown = sorted(set(params) - set(shapes))
        if unknown:
            raise ParameterError(f"{name} has unknown entries {', '.join(unknown)}; expected {', '.join(shapes)}")
        return {k: check_array(f"{name}['{k}']", params[k], shapes[k]).copy() for k in shapes}

    def check_inputs(self, x, target=None, mask=None):
        """Check a sequence's input ``x`` (T, n_in), target (T, n_out) and mask (T,); returns them as arrays."""
        x = check_array("x", x, (None, self.n_in))
        if x.shape[0] < 1:
            raise ParameterError("x must have at least one time step, got 0")
        out = [x]
        if target is not None:
            out.append(check_array("y_target", target, (x.shape[0], self.n_out)))
        if mask is not None:
            m = check_array("loss mask", mask, (x.shape[0],))
            if np.any(m < 0):
                raise ParameterError("loss mask must be >= 0 everywhere")
            out.append(m)
        return out

    # -- forward ------------------------------------------------------------------------
    def initial_carry(self, ops=NUMPY):
        """The carry before the first step: the layers' and the readout's."""
        return [layer.initial_carry(ops) for layer in self.layers], self.readout.initial_carry(ops)

    def step(self, ops, params, carry, x_t):
        """One step of the whole network, layers from the input upward, then the readout.
        Returns ``(carry, layer_steps, a_t)`` (:class:`LayerStep` per layer)."""
        layer_carries, a_prev = carry
        new_carries, steps = [], []
        inp = x_t
        for index, layer in enumerate(self.layers):
            c, step = layer.step(ops, params, self.prefix(index), layer_carries[index], inp)
            new_carries.append(c)
            steps.append(step)
            inp = step.y
        a = self.readout.potential(ops, params, a_prev, inp)
        return (new_carries, a), steps, a

    def forward(self, params, x, target=None, mask=None, ops=NUMPY, block=128, record=True, engine=None,
                dtype=None, regularisation=None):
        """Run the network over ``x`` (T, n_in) from the zero state.

        With ``ops=NUMPY`` returns a :class:`ForwardResult` (``record=False`` skips the
        per-layer recordings); the NumPy path advances in blocks of ``block`` steps
        (:func:`ostl.blocked.forward_block`), its per-step loops compiled with
        ``engine='compiled'`` (the default where it builds; ``'numpy'``: the definition, see
        :mod:`ostl.compiled`), in float64 or ``dtype='float32'`` (:mod:`ostl.precision`; the
        results are returned in float64). With the torch namespace returns
        ``(loss_tensor, [a^t])`` for autodiff, step by step; there ``regularisation`` (a
        :class:`~ostl.regularisation.FiringRateRegularisation`) adds its ``E_reg`` to the loss."""
        if ops is not NUMPY:
            return self._forward_autodiff(params, x, target, mask, ops, regularisation)
        from .blocked import forward_block
        from .compiled import resolve_engine
        from .precision import cast, resolve_dtype

        engine = resolve_engine(engine)
        dtype = resolve_dtype(dtype)
        params, x = cast(params, dtype), cast(x, dtype)
        T = x.shape[0]
        carry = cast(self.initial_carry(NUMPY), dtype)
        potentials = np.zeros((T, self.n_out))
        outputs = np.zeros((T, self.n_out))
        step_losses = np.zeros(T)
        layer_outputs = [np.zeros((T, layer.size)) for layer in self.layers] if record else []
        layer_states = [np.zeros((T, layer.size, len(layer.cell.initial_state(NUMPY, 1)) if layer.kind == "gated"
                                  else layer.cell.state_size)) if layer.stateful else None
                        for layer in self.layers] if record else []
        for t0 in range(0, T, block):
            t1 = min(T, t0 + block)
            carry, fw = forward_block(self, params, carry, x[t0:t1], engine=engine)
            potentials[t0:t1] = fw.potentials
            outputs[t0:t1] = fw.outputs
            if target is not None:
                step_losses[t0:t1] = self.readout.loss_value(NUMPY, fw.potentials, target[t0:t1])
            if record:
                for index, layer in enumerate(self.layers):
                    layer_outputs[index][t0:t1] = fw.layer_outputs[index]
                    if layer.stateful:
                        layer_states[index][t0:t1] = fw.layer_states[index]
        if mask is not None:
            step_losses = step_losses * mask
        return ForwardResult(loss=float(step_losses.sum()), outputs=outputs, potentials=potentials,
                             layer_outputs=layer_outputs, layer_states=layer_states, step_losses=step_losses)

    def _forward_autodiff(self, params, x, target, mask, ops, regularisation=None):
        carry = self.initial_carry(ops)
        loss = 0.0
        potentials = []
        output_sums = {}
        for t in range(x.shape[0]):
            carry, steps, a = self.step(ops, params, carry, x[t])
            potentials.append(a)
            if regularisation is not None:
                for index, layer in enumerate(self.layers):
                    if layer.stateful and layer.kind != "gated":
                        output_sums[index] = output_sums.get(index, 0.0) + steps[index].y
            if target is not None:
                e_t = self.readout.loss_value(ops, a, target[t])
                if mask is not None:
                    e_t = e_t * float(mask[t])
                loss = loss + e_t
        for sums in output_sums.values():   # E_reg (ostl.regularisation), differentiated with the rest
            loss = loss + regularisation.loss(sums / x.shape[0])
        return loss, potentials


#: the kinds of hidden layer, by their spec's ``type``
LAYERS = Registry("layer type", key="type", base=(Layer, Dense, GatedLayer), names_only=False)
LAYERS.register(Layer, "layer")
LAYERS.register(Dense, "dense")
LAYERS.register(GatedLayer, "gated")


def _make_layer(layer):
    if isinstance(layer, dict) and "type" not in layer:
        layer = {"type": "layer", **layer}
    if not isinstance(layer, (dict, *LAYERS.base)):
        raise ParameterError(f"layers must be Layer/Dense objects or dicts, got {layer!r}")
    return LAYERS.make(layer)

"""Fuzzing the public entry points with hypothesis: the command line, the reference engine's
constructors and learner, the PyNN types' parameters, the NEST models' SetStatus and the
problem-file reader get random and malformed values, shapes, dtypes, NaN/inf, empty arrays
and huge sizes. The property: a clear error (``ParameterError``/``ProblemFileError``, NEST's
``BadProperty``-style errors, or exit status 2 with one line) or a correct result -- never a
traceback, a hang or a crash. The number of cases per entry point is printed at the end of
the run; the CI profile is bounded and reproducible, ``make test-all`` runs the long one."""

import collections
import contextlib
import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ostl.errors import ParameterError, ProblemFileError

from .conftest import FUZZ_CASES

# -- values a user (or a script) might pass ---------------------------------------------------------
WEIRD = st.one_of(
    st.integers(-5, 60),
    st.sampled_from([0, -1, 2**31, 2**63, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 0.999999, 1e-300, 1e300, float("nan"), float("inf")]),
    st.text(max_size=6),
    st.none(),
    st.booleans(),
    st.lists(st.integers(-2, 2), max_size=3),
    st.builds(lambda n: np.arange(n, dtype=float), st.integers(0, 3)),
)
CLI_VALUE = st.one_of(
    st.integers(-3, 40).map(str),
    st.sampled_from(["0", "-1", "1e6", "nan", "inf", "-inf", "1e309", "2147483648", "999999999999", "x", "",
                     "0.5", "1.5", "{}", '{"kind": "snu", "decay": 2}', '{"kind": "lif", "tau_m": -1}', "[1]"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
TRAIN_OPTIONS = ["--task", "--rule", "--feedback", "--traces", "--cell", "--hidden", "--steps", "--batch-size",
                 "--optimizer", "--lr", "--clip", "--mode", "--seed", "--checkpoint-every", "--backend",
                 "--on-divergence"]
CHOICES = {"--task": ["pattern_generation", "store_recall", "evidence_accumulation", "sine"],
           "--rule": ["ostl", "ostl_no_h", "ostl_rnd", "osttp", "eprop", "bptt", "x"],
           "--feedback": ["symmetric", "random", "random_direct", "target_projection", "x"],
           "--traces": ["exact", "no_h", "eprop", "x"], "--optimizer": ["adam", "sgd", "rmsprop"],
           "--mode": ["deferred", "online", "x"], "--backend": ["reference", "x"],
           "--on-divergence": ["stop", "skip", "x"], "--cell": ["snu", "soft_snu", "lif", "alif", "x"]}


def _cli(argv):
    """Run the command line in-process; returns (exit status, stderr)."""
    from ostl.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:   # argparse
            code = exc.code
    return code, err.getvalue()


def _assert_clean_exit(code, stderr):
    assert code in (0, 2, 3), (code, stderr)
    if code:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in stderr, stderr


@st.composite
def train_argv(draw):
    argv = ["train"]
    for option in draw(st.lists(st.sampled_from(TRAIN_OPTIONS), max_size=5, unique=True)):
        values = CHOICES.get(option)
        value = draw(st.one_of(st.sampled_from(values), CLI_VALUE) if values else CLI_VALUE)
        argv += [option, value]
    if "--steps" not in argv and draw(st.booleans()):
        argv += ["--steps", "40"]
    return argv


@given(argv=train_argv())
def test_fuzz_cli_train(argv, tmp_path_factory):
    FUZZ_CASES["cli: ostl train"] += 1
    out = tmp_path_factory.mktemp("train")
    code, stderr = _cli(argv + ["--iterations", "1", "--no-progress", "--no-plot", "--out", out,
                                *([] if "--hidden" in argv else ["--hidden", "6"])])
    _assert_clean_exit(code, stderr)


@given(command=st.sampled_from(["make-problem", "grad", "compare"]),
       options=st.lists(st.tuples(st.sampled_from(["--steps", "--n-in", "--n", "--n-out", "--decay", "--seed",
                                                   "--output", "--pseudo", "--rule"]), CLI_VALUE), max_size=4))
def test_fuzz_cli_problem_commands(command, options, tmp_path_factory):
    FUZZ_CASES[f"cli: ostl {command}"] += 1
    folder = tmp_path_factory.mktemp("problem")
    problem = folder / "p.npz"
    flags = [x for pair in options for x in pair]
    if command == "make-problem":
        code, stderr = _cli(["make-problem", problem, *[f for f in flags if f != "--rule"]])
        _assert_clean_exit(code, stderr)
        return
    _cli(["make-problem", problem, "--steps", "30"])
    argv = [command, problem] + (["--rule", "ostl", "--out", folder / "g.npz"] if command == "grad" else [])
    allowed = {"--seed", "--rule"} if command == "grad" else {"--seed"}
    extra = [x for flag, value in options if flag in allowed for x in (flag, value)]
    if command == "grad" and "--rule" in extra:
        argv = [command, problem, "--out", folder / "g.npz"]
    code, stderr = _cli(argv + extra)
    _assert_clean_exit(code, stderr)


# -- the reference engine --------------------------------------------------------------------------
@given(kind=st.sampled_from(["snu", "soft_snu", "lif", "alif"]),
       params=st.dictionaries(st.sampled_from(["decay", "activation", "output", "pseudo", "threshold", "tau_m",
                                               "tau_a", "beta", "v_th", "bogus"]),
                              st.one_of(WEIRD, st.sampled_from(["relu", "tanh", "sigmoid", "step", "fast_sigmoid"]),
                                        st.fixed_dictionaries({"name": st.sampled_from(["fast_sigmoid", "x"]),
                                                               "slope": WEIRD})), max_size=3),
       size=WEIRD, recurrent=WEIRD, leak=WEIRD, steps=st.integers(1, 8))
def test_fuzz_reference_constructors_and_learner(kind, params, size, recurrent, leak, steps):
    from ostl import Layer, Network, OnlineLearner, Readout, make_cell

    FUZZ_CASES["reference: cells, layers, network, learner"] += 1
    try:
        cell = make_cell({"kind": kind, **params})
        net = Network(3, [Layer(size if isinstance(size, int) and 0 < size < 20 else size, cell,
                                recurrent=recurrent)], Readout(2, leak=leak))
    except ParameterError:
        return
    learner = OnlineLearner(net, "eprop" if kind in ("lif", "alif") else "ostl_no_h", net.init_params(seed=1))
    x = (np.random.default_rng(0).random((steps, 3)) < 0.5) * 1.0
    result = learner.run(x, np.zeros((steps, 2)))
    assert result.outputs.shape == (steps, 2)


@given(x=st.one_of(WEIRD, st.builds(np.full, st.tuples(st.integers(0, 4), st.integers(0, 4)),
                                    st.sampled_from([0.0, 1.0, np.nan, np.inf]))),
       target=st.one_of(WEIRD, st.builds(np.zeros, st.tuples(st.integers(0, 4), st.integers(0, 3)))),
       mask=st.one_of(st.none(), WEIRD))
def test_fuzz_learner_inputs(x, target, mask):
    from ostl import SNU, Layer, Network, OnlineLearner, Readout

    FUZZ_CASES["reference: OnlineLearner.run inputs"] += 1
    net = Network(3, [Layer(4, SNU())], Readout(2))
    learner = OnlineLearner(net, "ostl", net.init_params(seed=0))
    try:
        result = learner.run(x, target, mask)
    except ParameterError:
        return
    assert np.all(np.isfinite(result.outputs))


@given(name=st.one_of(st.sampled_from(["ostl", "ostl_no_h", "ostl_rnd", "osttp", "eprop", "bptt"]), WEIRD),
       traces=WEIRD, feedback=WEIRD, optimizer=st.dictionaries(st.sampled_from(["name", "lr", "clip", "beta1",
                                                                                 "eps", "x"]), WEIRD, max_size=3))
def test_fuzz_rules_and_optimizers(name, traces, feedback, optimizer):
    from ostl import make_rule
    from ostl.optim import make_optimizer

    FUZZ_CASES["reference: make_rule, make_optimizer"] += 1
    for make in (lambda: make_rule(name, traces=traces, feedback=feedback), lambda: make_optimizer(optimizer)):
        try:
            make()
        except ParameterError:
            pass


# -- the problem-file reader ---------------------------------------------------------------------------
@given(entries=st.dictionaries(st.sampled_from(["x", "y_target", "W", "H", "b", "W_out", "decay", "output",
                                                "pseudo", "extra"]),
                               st.one_of(st.builds(np.full, st.tuples(st.integers(0, 4), st.integers(0, 4)),
                                                   st.sampled_from([0.0, 0.5, np.nan, -np.inf])),
                                         st.builds(np.zeros, st.integers(0, 3)),
                                         st.sampled_from([np.array("step"), np.array("tanh"), np.array(0.8),
                                                          np.array(1.7), np.array(["a", "b"]), np.array(3)])),
                               max_size=10),
       truncate=st.booleans())
def test_fuzz_problem_reader(entries, truncate, tmp_path_factory):
    from ostl.problem import load_problem, problem_gradients

    FUZZ_CASES["problem file reader"] += 1
    path = tmp_path_factory.mktemp("p") / "p.npz"
    np.savez(path, **entries)
    if truncate:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    try:
        problem = load_problem(path)
        problem_gradients(problem, "ostl")
    except (ProblemFileError, ParameterError):
        pass


# -- the PyNN types -------------------------------------------------------------------------------------
@given(kind=st.sampled_from(["SNU", "SoftResetSNU", "LIF", "ALIF", "Readout", "OSTLSynapse", "EPropSynapse",
                             "ReadoutSynapse", "LearningSignalConnection"]),
       params=st.dictionaries(st.sampled_from(["decay", "bias", "threshold", "tau_m", "v_th", "beta", "leak",
                                               "weight", "delay", "learning_rate", "trial_duration", "mode", "rule",
                                               "optimizer", "feedback", "pseudo", "activation", "learn_bias",
                                               "bogus"]), WEIRD, max_size=3))
def test_fuzz_pynn_types(kind, params):
    pytest.importorskip("pyNN")
    import pyNN_ostl.standardmodels as sm

    FUZZ_CASES["PyNN types' parameters"] += 1
    try:
        getattr(sm, kind)(**params)
    except ParameterError:
        pass


# -- the NEST models' SetStatus -------------------------------------------------------------------------
NEST_MODELS = ["snu_neuron", "soft_reset_snu_neuron", "lif_neuron", "alif_neuron", "readout_neuron",
               "snu_neuron_learning", "lif_neuron_learning", "readout_neuron_learning"]


@pytest.fixture(scope="module")
def nest_kernel():
    nest = pytest.importorskip("nest")
    import nestml_models
    from ostl.errors import BackendUnavailableError

    try:
        nestml_models.build()
    except BackendUnavailableError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(str(exc))
    return nest


@given(model=st.sampled_from(NEST_MODELS), data=st.data())
def test_fuzz_nest_set_status(nest_kernel, model, data):
    import nestml_models

    nest = nest_kernel
    FUZZ_CASES["NEST models: SetStatus"] += 1
    nest.ResetKernel()
    nest.set_verbosity("M_FATAL") if hasattr(nest, "set_verbosity") else None
    nestml_models.install()
    node = nest.Create(model)
    before = node.get()
    keys = sorted(k for k, v in before.items() if isinstance(v, (int, float, str)) and k not in (
        "global_id", "model", "model_id", "thread", "vp", "local", "node_uses_wfr", "element_type",
        "thread_local_id", "frozen", "synaptic_elements", "recordables", "t_spike", "archiver_length"))
    status = data.draw(st.dictionaries(st.one_of(st.sampled_from(keys), st.sampled_from(["bogus"])),
                                       st.one_of(st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                                                 st.sampled_from(["tanh", "relu", "linear", "x", ""]),
                                                 st.booleans()), max_size=3))
    try:
        nest.SetStatus(node, [status])   # the model's SetStatus (a list of dicts: PyNEST splits no string)
    except nest.NESTError as exc:
        if type(exc).__name__ != "UnaccessedDictionaryEntry":   # NEST checks unknown names after the model
            after = node.get()
            assert {k: after[k] for k in keys} == {k: before[k] for k in keys}   # a rejected set changes nothing
        return
    nest.Simulate(3.0)   # an accepted value simulates


def test_fuzz_counts_are_reported(tmp_path_factory):
    """The fuzzers count their cases (the summary at the end of the run lists them). Three of them,
    run here, add cases to their counts, whatever ran before in this process (any order, any
    worker)."""
    before = collections.Counter(FUZZ_CASES)
    test_fuzz_cli_train(tmp_path_factory=tmp_path_factory)
    test_fuzz_reference_constructors_and_learner()
    test_fuzz_problem_reader(tmp_path_factory=tmp_path_factory)
    for name in ("cli: ostl train", "reference: cells, layers, network, learner", "problem file reader"):
        assert FUZZ_CASES[name] > before[name], (name, FUZZ_CASES)

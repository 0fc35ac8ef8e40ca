"""A normal (non-editable) install works: the wheel carries every file the NEST module is
built from, and a fresh virtual environment builds the module from it and learns."""

import os
import pathlib
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

LEARN = r"""
import sys, pathlib
import numpy as np
import ostl, nestml_models
here = pathlib.Path(sys.argv[1])
assert pathlib.Path(ostl.__file__).is_relative_to(here), ostl.__file__        # the wheel's copy, not the tree
assert pathlib.Path(nestml_models.__file__).is_relative_to(here), nestml_models.__file__
from ostl import LIF, Adam, Layer, Network, OnlineLearner, Readout
from nestml_models.network import NestNetwork
net = Network(5, [Layer(6, LIF(tau_m=15.0, v_th=0.4), recurrent=True)], Readout(2, leak=0.6))
params = net.init_params(seed=2, weight_scale=2.0)
rng = np.random.default_rng(3)
x = (rng.random((40, 5)) < 0.3) * 1.0
target = rng.normal(size=(40, 2))
trainable = ["layer0.W", "layer0.H", "readout.W"]
sim = NestNetwork(net, "eprop", params, steps=40, feedback={}, optimizer=Adam(0.01), trainable=trainable)
reference = OnlineLearner(net, "eprop", params, trainable=trainable)
optimizer = Adam(0.01)
for _ in range(3):
    sim.run_trial(x, target)
    optimizer.step(reference.params, reference.run(x, target).grads)
weights = sim.weights()
for name in trainable:
    deviation = np.abs(weights[name] - reference.params[name]).max() / np.abs(reference.params[name]).max()
    assert deviation < 1e-9, (name, deviation)
    assert np.abs(weights[name] - params[name]).max() > 1e-4, name
print("learned like the reference")
"""


def _source_copy(destination):
    """The files a commit of the tree would hold (tracked, and untracked but not ignored), copied to
    ``destination``: the wheel is built there, so that the build leaves nothing in the tree."""
    import shutil

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def test_wheel_installs_in_a_fresh_environment_and_builds_the_nest_module(tmp_path):
    pytest.importorskip("nest")
    pytest.importorskip("pynestml")
    from nestml_models.build import check_prerequisites
    from ostl.errors import BackendUnavailableError

    try:
        check_prerequisites()
    except BackendUnavailableError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(str(exc))
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(_source_copy(tmp_path / "source"))], capture_output=True, text=True,
                           timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("ostl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for required in ("nestml_models/cpp/ostl_synapse.h", "nestml_models/cpp/ostl_checked.h",
                     "nestml_models/models/snu_neuron.nestml.jinja2", "nestml_models/models/_cell_neuron.nestml.jinja2",
                     "nestml_models/models/readout_neuron.nestml",
                     "nestml_models/templates/module/@MODULE_NAME@.cpp.jinja2",
                     "nestml_models/templates/neuron/@NEURON_NAME@.protected.h.jinja2"):
        assert required in names, required
    # a fresh environment, the package from the wheel only; its dependencies (NEST, NESTML, ...)
    # are this environment's, reached through a path file (no editable finder is processed there)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = pathlib.Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                       capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    env = dict(os.environ, OSTL_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(python), "-c", LEARN, str(site)], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "learned like the reference" in run.stdout
    # the command line works from the installed package too
    command = subprocess.run([str(venv / "bin" / "ostl"), "build-nest"], capture_output=True, text=True, env=env,
                             timeout=600)
    assert command.returncode == 0 and "NEST module:" in command.stdout, command.stderr[-2000:]

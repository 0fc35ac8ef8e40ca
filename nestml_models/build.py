"""Generate and compile the NESTML models of this directory into one NEST extension module.

``build()`` runs NESTML's code generator and compiler against the *installed* NEST (the pip
wheel ``nest-simulator`` 3.10 works); the result is cached under a key made of the model
files, the NEST, NESTML and Python versions and the build flags, so a module is built once
per machine and reused. ``install()`` builds if needed and loads it with ``nest.Install``.
From the command line: ``ostl build-nest [--force]``.

What the pip wheel needs (measured, see ../docs/design.md):

* Debian packages ``libboost-dev`` (NEST's headers include boost), ``libltdl-dev`` and
  ``libgsl-dev``, plus ``g++``, ``cmake`` and ``make``;
* a corrected ``nest-config``: the wheel's script names the paths of the machine that built
  it; ours points at the installed package;
* the old C++ string ABI (``-D_GLIBCXX_USE_CXX11_ABI=0``): the wheel's kernel was built with
  it, and a module built without it fails in ``nest.Install`` with an undefined symbol that
  NEST reports as "file not found".
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ostl.errors import BackendUnavailableError

MODULE_NAME = "ostlmodule"
MODELS_DIR = Path(__file__).resolve().parent
BUILD_FLAGS = "-Wall -fopenmp -O2 -std=c++20 -D_GLIBCXX_USE_CXX11_ABI=0"
BUILDER_VERSION = "2"
APT_PACKAGES = "libboost-dev libltdl-dev libgsl-dev"
REQUIRED_HEADERS = {"boost/version.hpp": "libboost-dev", "ltdl.h": "libltdl-dev", "gsl/gsl_errno.h": "libgsl-dev"}


CPP_DIR = MODELS_DIR / "cpp"


def model_files():
    return sorted(MODELS_DIR.glob("*.nestml"))


def learning_sources():
    """The C++ learning layer (plastic synapse, history, learning signals; see cpp/*.h)."""
    return sorted(CPP_DIR.glob("*.h"))


def _nest():
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner on the command line
    try:
        import nest  # noqa: F401
    except ImportError:
        raise BackendUnavailableError("the NEST backend needs nest-simulator: pip install -e '.[nest]' "
                                      "(nest-simulator 3.10, nestml 9)") from None
    return sys.modules["nest"]


def check_prerequisites():
    """Raise one clear error naming what to install if the build cannot work here."""
    missing_tools = [tool for tool in ("g++", "cmake", "make") if shutil.which(tool) is None]
    include_dirs = ["/usr/include", "/usr/local/include"]
    missing_pkgs = sorted({pkg for header, pkg in REQUIRED_HEADERS.items()
                           if not any(os.path.exists(os.path.join(d, header)) for d in include_dirs)})
    if missing_tools or missing_pkgs:
        parts = []
        if missing_pkgs:
            parts.append(f"Debian packages {' '.join(missing_pkgs)}")
        if missing_tools:
            parts.append(f"the tools {' '.join(missing_tools)} (Debian: g++ cmake make)")
        raise BackendUnavailableError(
            "building the NEST models needs " + " and ".join(parts)
            + f"; install with: apt-get install -y {APT_PACKAGES} g++ cmake make")
    try:
        import pynestml  # noqa: F401
    except ImportError:
        raise BackendUnavailableError("building the NEST models needs NESTML: pip install 'nestml==9.0.0'") from None


def cache_key():
    nest = _nest()
    import pynestml

    digest = hashlib.sha256()
    for path in model_files() + learning_sources():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for part in (nest.__version__ if hasattr(nest, "__version__") else str(nest.build_info.get("version", "")),
                 getattr(pynestml, "__version__", ""), sys.version.split()[0], BUILD_FLAGS, BUILDER_VERSION):
        digest.update(str(part).encode())
    return digest.hexdigest()[:16]


def cache_root():
    return Path(os.environ.get("OSTL_CACHE_DIR", Path.home() / ".cache" / "ostl")) / "nest-modules"


def module_path():
    return cache_root() / cache_key() / "install" / f"{MODULE_NAME}.so"


def _write_nest_config(directory):
    """A nest-config that describes the installed NEST package (see module docstring)."""
    nest = _nest()
    prefix = Path(nest.__file__).resolve().parent
    bindir = Path(directory) / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    answers = {
        "--prefix": prefix, "--exec-prefix": prefix, "--version": "3.10.0",
        "--includes": f"-I{prefix / 'include' / 'nest'}", "--cflags": BUILD_FLAGS, "--libs": "-fopenmp",
        "--compiler": shutil.which("g++"), "--compiler-name": "GNU", "--compiler-version": "",
        "--python-executable": sys.executable, "--python-version": sys.version.split()[0],
        "--static-libraries": "OFF", "--docdir": "share/doc/nest", "--datadir": "share/nest", "--libdir": "lib/nest",
    }
    lines = ["#!/bin/sh", 'case "$1" in']
    lines += [f'  {key}) echo "{value}";;' for key, value in answers.items()]
    lines += ['  *) echo "";;', "esac", ""]
    script = bindir / "nest-config"
    script.write_text("\n".join(lines))
    script.chmod(0o755)
    return Path(directory)


def neuron_synapse_pairs():
    """No NESTML synapses: plasticity is the C++ learning layer (cpp/, docs/design.md#nest)."""
    return []


def build(force=False, quiet=True):
    """Build the module if it is not cached (or if ``force``); returns the path of the .so."""
    target = module_path()
    if target.exists() and not force:
        return target
    check_prerequisites()
    from pynestml.frontend.pynestml_frontend import generate_nest_target

    root = target.parent.parent
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="ostl-nestml-") as work:
        config = _write_nest_config(Path(work) / "nest")
        models = Path(work) / "models"
        models.mkdir()
        for path in model_files():
            shutil.copy(path, models / path.name)
        codegen_opts = {"nest_path": str(config)}
        pairs = neuron_synapse_pairs()
        if pairs:
            codegen_opts["neuron_synapse_pairs"] = pairs
        log_path = root / "build.log"
        try:
            with _captured_output(log_path, quiet):
                generate_nest_target(input_path=str(models), target_path=str(root / "generated"),
                                     install_path=str(target.parent), module_name=MODULE_NAME,
                                     logging_level="WARNING" if quiet else "INFO", codegen_opts=codegen_opts)
        except Exception as exc:  # NESTML raises bare Exceptions for build failures
            raise BackendUnavailableError(f"building the NEST module failed ({type(exc).__name__}); "
                                          f"messages in {log_path}") from exc
    if not target.exists():
        raise BackendUnavailableError(f"building the NEST module produced no {target.name}; "
                                      f"NESTML's messages are in {root / 'build.log'}")
    missing = [name for name in model_names() if not (Path(work_dir_of(target)) / f"{name}.h").exists()]
    if missing:
        raise BackendUnavailableError(f"NESTML generated no code for {', '.join(missing)}; "
                                      f"NESTML's messages are in {root / 'build.log'}")
    _add_learning_layer(work_dir_of(target), root / "build.log", quiet)
    return target


def _add_learning_layer(generated, log_path, quiet):
    """Compile the C++ learning layer into the NESTML-generated module.

    The learning neurons derive from the generated classes, so their private sections
    become protected; the module's ``initialize`` also registers the learning models. The
    module is then rebuilt and reinstalled with NESTML's own CMake set-up."""
    for path in learning_sources():
        shutil.copy(path, generated / path.name)
    for name in model_names():
        header = generated / f"{name}.h"
        header.write_text(header.read_text().replace("\nprivate:\n", "\nprotected:\n"))
    module_cpp = generated / f"{MODULE_NAME}.cpp"
    text = module_cpp.read_text()
    anchor = "void ostlmodule::initialize()\n{\n"
    if anchor not in text:
        raise BackendUnavailableError(f"unexpected NESTML module file {module_cpp} (NESTML version?)")
    text = text.replace(anchor, anchor + "    ostl::register_learning_models();\n")
    text = text.replace('#include "nest_extension_interface.h"\n',
                        '#include "nest_extension_interface.h"\n#include "ostl_learning_models.h"\n')
    module_cpp.write_text(text)
    with _captured_output(log_path, quiet, append=True):
        status = os.system(f"cd '{generated}' && make -j{os.cpu_count() or 1} install")
    if status != 0:
        raise BackendUnavailableError(f"compiling the learning models failed; messages in {log_path}")


def model_names():
    """Model names declared in the files (``model <name>:``)."""
    names = []
    for path in model_files():
        for line in path.read_text().splitlines():
            if line.startswith("model "):
                names.append(line.split()[1].rstrip(":"))
    return names


def work_dir_of(target):
    return target.parent.parent / "generated"


@contextlib.contextmanager
def _captured_output(log_path, quiet, append=False):
    """Send this process's stdout/stderr (and those of cmake, make and the compiler it
    starts) to ``log_path`` while building, if ``quiet``."""
    if not quiet:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log_path, "a" if append else "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def build_command(args):
    """``ostl build-nest [--force] [--verbose]``."""
    path = build(force=args.force, quiet=not args.verbose)
    print(f"NEST module: {path}")
    return 0


_INSTALLED = set()


def install(force_build=False):
    """Build if needed and load the module into the running NEST kernel (once per kernel
    session; call again after ``nest.ResetKernel``)."""
    nest = _nest()
    path = build(force=force_build)
    if MODULE_NAME not in _INSTALLED or "snu_neuron" not in nest.node_models:
        nest.Install(str(path))
        _INSTALLED.add(MODULE_NAME)
    return path

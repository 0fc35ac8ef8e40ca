"""Generate and compile the NESTML models of this directory into one NEST extension module.

``build()`` renders the models from the reference cells (:mod:`nestml_models.generate`) and
runs NESTML's code generator and compiler, with our code-generation templates, against the
*installed* NEST (the pip wheel ``nest-simulator`` 3.10 works); the result is cached under a
key made of the rendered models, the C++ layer, the templates, the NEST, NESTML and Python
versions and the build flags, so a module is built once per machine and reused.
``install()`` builds if needed and loads it with ``nest.Install``.
From the command line: ``ostl build-nest [--force]``.

What the pip wheel needs (measured, see ../docs/design.md):

* Debian packages ``libboost-dev`` (NEST's headers include boost), ``libltdl-dev`` and
  ``libgsl-dev``, plus ``g++``, ``cmake`` and ``make``;
* a corrected ``nest-config``: the wheel's script names the paths of the machine that built
  it; ours points at the installed package;
* the C++ string ABI of the kernel: the wheel's was built with the old one
  (``-D_GLIBCXX_USE_CXX11_ABI=0``), and a module built with the other fails in ``nest.Install``
  with an undefined symbol that NEST reports as "file not found". :func:`build_flags` reads
  the ABI off the kernel's symbols, so a NEST built from source (``make nest-mpi``) works too;
* a NEST built with MPI (``nest.build_info["have_mpi"]``): its headers include ``mpi.h``, so the
  module compiles with the MPI compiler wrapper's flags (``mpicxx --showme:compile``).
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

from . import generate

MODULE_NAME = "ostlmodule"
PACKAGE_DIR = Path(__file__).resolve().parent
CPP_DIR = PACKAGE_DIR / "cpp"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
#: compiler flags of every build; :func:`build_flags` adds the kernel's ABI and MPI's flags
BASE_FLAGS = "-Wall -fopenmp -O2 -std=c++20"
BUILDER_VERSION = "3"
APT_PACKAGES = "libboost-dev libltdl-dev libgsl-dev"
REQUIRED_HEADERS = {"boost/version.hpp": "libboost-dev", "ltdl.h": "libltdl-dev", "gsl/gsl_errno.h": "libgsl-dev"}
#: NESTML's own module templates, used as they are (copied next to ours at build time)
STOCK_MODULE_TEMPLATES = ("CMakeLists.txt.jinja2", "@MODULE_NAME@.h.jinja2")
#: the header the generated ostl_checked.h specialisations are written to
CHOICES_HEADER = "ostl_choices.h"


def learning_sources():
    """The C++ learning layer (plastic synapse, history, learning signals; see cpp/*.h)."""
    return sorted(CPP_DIR.glob("*.h"))


def template_files():
    """Our NESTML code-generation templates (module and neuron header)."""
    return sorted(TEMPLATES_DIR.rglob("*.jinja2"))


def model_files():
    """The model sources: Jinja2 templates of the cell models and the plain NESTML models."""
    return sorted(generate.MODELS_DIR.glob("*.nestml*"))


def _nest():
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner on the command line
    try:
        import nest  # noqa: F401
    except ImportError:
        raise BackendUnavailableError("the NEST backend needs nest-simulator: pip install 'ostl[nest]' "
                                      "(nest-simulator 3.10, nestml 9)") from None
    return sys.modules["nest"]


def nest_version():
    """The version of the NEST that runs here, as NEST reports it."""
    nest = _nest()
    version = getattr(nest, "__version__", None) or nest.build_info.get("version")
    if not version:
        raise BackendUnavailableError("the installed NEST does not report its version (nest.__version__)")
    return str(version)


def _kernel_library():
    """The shared library that holds NEST's kernel symbols (the Python extension of PyNEST)."""
    prefix = Path(_nest().__file__).resolve().parent
    found = sorted(prefix.glob("nestkernel_api*.so")) + sorted(prefix.rglob("libnestkernel*.so"))
    if not found:
        raise BackendUnavailableError(f"no NEST kernel library (nestkernel_api*.so) under {prefix}")
    return found[0]


def build_flags():
    """The module's compiler flags for the NEST that runs here: :data:`BASE_FLAGS`, the kernel's
    C++ string ABI (the kernel's own symbols, those of namespace ``nest``, name strings
    ``std::__cxx11::basic_string`` under the new ABI, ``Ss`` under the old) and, for a NEST built
    with MPI, the MPI compiler wrapper's include flags."""
    import subprocess

    flags = [BASE_FLAGS]
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(_kernel_library())], capture_output=True, text=True,
                             check=False).stdout
    new_abi = any("__cxx11" in line for line in symbols.splitlines() if "4nest" in line)
    flags.append(f"-D_GLIBCXX_USE_CXX11_ABI={int(new_abi)}")
    if _nest().build_info.get("have_mpi"):
        wrapper = shutil.which("mpicxx")
        if wrapper is None:
            raise BackendUnavailableError("this NEST was built with MPI: building the NEST models needs mpicxx "
                                          "(apt-get install -y libopenmpi-dev openmpi-bin)")
        done = subprocess.run([wrapper, "--showme:compile"], capture_output=True, text=True, check=False)
        flags.append(done.stdout.strip())
    return " ".join(flag for flag in flags if flag)


def check_prerequisites():
    """Raise one clear error naming what to install if the build cannot work here."""
    missing_tools = [tool for tool in ("g++", "cmake", "make", "nm") if shutil.which(tool) is None]
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
    """A hash of everything the module is built from: the generated models (so a change of
    a reference cell rebuilds), the C++ layer, our templates, NEST/NESTML/Python versions."""
    import pynestml

    digest = hashlib.sha256()
    for model in generate.model_names():
        digest.update(model.encode())
        digest.update(generate.render(model).encode())
    digest.update(generate.choices_header().encode())
    for path in learning_sources() + template_files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for part in (nest_version(), getattr(pynestml, "__version__", ""), sys.version.split()[0], build_flags(),
                 BUILDER_VERSION, str(_kernel_library())):
        digest.update(str(part).encode())
    return digest.hexdigest()[:16]


def cache_root():
    """Where built NEST modules are kept (``$OSTL_CACHE_DIR/nest-modules``)."""
    return Path(os.environ.get("OSTL_CACHE_DIR", Path.home() / ".cache" / "ostl")) / "nest-modules"


def module_path():
    """The path of the module built from the current sources (:func:`cache_key`)."""
    return cache_root() / cache_key() / "install" / f"{MODULE_NAME}.so"


def _write_nest_config(directory):
    """A nest-config that describes the installed NEST package (see module docstring)."""
    nest = _nest()
    prefix = Path(nest.__file__).resolve().parent
    bindir = Path(directory) / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    answers = {
        "--prefix": prefix, "--exec-prefix": prefix, "--version": nest_version(),
        "--includes": f"-I{prefix / 'include' / 'nest'}", "--cflags": build_flags(), "--libs": "-fopenmp",
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


def _templates_option(work):
    """NESTML's ``templates`` code-generation option: NESTML's own neuron source template,
    our neuron header (the generated classes with protected members, for the learning layer)
    and our module template (registers the checked neurons and the learning models) beside
    NESTML's CMake and module-header templates."""
    import pynestml

    stock = Path(pynestml.__file__).resolve().parent / "codegeneration" / "resources_nest" / "point_neuron"
    module_dir = Path(work) / "module_templates"
    module_dir.mkdir()
    for name in STOCK_MODULE_TEMPLATES:
        if not (stock / "setup" / name).exists():
            raise BackendUnavailableError(f"this NESTML has no {stock / 'setup' / name} (ostl builds with NESTML 9.0)")
        shutil.copy(stock / "setup" / name, module_dir / name)
    for path in (TEMPLATES_DIR / "module").glob("*.jinja2"):
        shutil.copy(path, module_dir / path.name)
    return {"path": "resources_nest/point_neuron",
            "model_templates": {"neuron": ["@NEURON_NAME@.cpp.jinja2",
                                           str(TEMPLATES_DIR / "neuron" / "@NEURON_NAME@.protected.h.jinja2")],
                                "synapse": ["@SYNAPSE_NAME@.h.jinja2"]},
            "module_templates": [str(module_dir)]}


def build(force=False, quiet=True):
    """Build the module if it is not cached (or if ``force``); returns the path of the .so.

    The cell models are generated from the reference engine (:mod:`nestml_models.generate`)
    into ``<cache>/models``; NESTML generates and compiles them with our templates; the C++
    learning layer and the generated choice table are placed beside the generated code, so
    that the module compiles them (nothing NESTML generates is edited)."""
    target = module_path()
    if target.exists() and not force:
        return target
    check_prerequisites()
    if _launched_rank():
        return _build_outside_launcher(target, force, quiet)
    root = target.parent.parent
    with _exclusive(root.parent / f"{root.name}.lock"):   # one build at a time per module
        if target.exists() and not force:   # another process built it while this one waited
            return target
        _build_into(root, target, quiet)
    return target


#: environment variables by which an MPI launcher (OpenMPI's mpirun, PMIx) tells a process it is a rank
_LAUNCHER_PREFIXES = ("OMPI_", "PMIX_", "PMI_", "ORTE_", "OPAL_", "PRTE_")


def _launched_rank():
    """Whether this process is a rank started by an MPI launcher (``mpirun``)."""
    return any(key in os.environ for key in ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"))


def _build_outside_launcher(target, force, quiet):
    """Build in a fresh process without the launcher's variables. Under ``mpirun`` the compilers
    and tools the build starts inherit them and take themselves for ranks: OpenMPI's start-up
    fails in them ("orte_init failed", measured with OpenMPI 4.1 from Debian) and "make all" fails.
    Every rank asks; the lock lets one build while the others wait for its module."""
    import subprocess

    env = {key: value for key, value in os.environ.items()
           if not key.startswith(_LAUNCHER_PREFIXES) or key.startswith("OMPI_ALLOW_RUN_AS_ROOT")}
    done = subprocess.run([sys.executable, "-c", "from nestml_models.build import build; "
                           f"print(build(force={bool(force)}, quiet={bool(quiet)}))"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0 or not target.exists():
        lines = (done.stderr.strip() or done.stdout.strip() or "no message").splitlines()
        raise BackendUnavailableError(f"building the NEST module outside the MPI launcher failed: {lines[-1]}")
    return target


@contextlib.contextmanager
def _exclusive(lock_path):
    """Hold an exclusive lock on ``lock_path`` (created if needed) across processes. Two
    processes that built the same module at once (two trainings on a new machine, a benchmark
    beside the tests) deleted each other's build folder: measured, "make all" failed."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _build_into(root, target, quiet):
    """Generate the models and build the module in ``root`` (replaced)."""
    from pynestml.frontend.pynestml_frontend import generate_nest_target

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    models = root / "models"
    generate.write_models(models)
    generated = root / "generated"
    generated.mkdir()
    for path in learning_sources():
        shutil.copy(path, generated / path.name)
    (generated / CHOICES_HEADER).write_text(generate.choices_header())
    log_path = root / "build.log"
    with tempfile.TemporaryDirectory(prefix="ostl-nestml-") as work:
        codegen_opts = {"nest_path": str(_write_nest_config(Path(work) / "nest")),
                        "templates": _templates_option(work)}
        try:
            with _captured_output(log_path, quiet):
                generate_nest_target(input_path=str(models), target_path=str(generated),
                                     install_path=str(target.parent), module_name=MODULE_NAME,
                                     logging_level="WARNING" if quiet else "INFO", codegen_opts=codegen_opts)
        except (Exception, SystemExit) as exc:  # NESTML raises bare Exceptions (and exits) on failures
            raise BackendUnavailableError(f"building the NEST module failed ({type(exc).__name__}: {exc}); "
                                          f"messages in {log_path}") from exc
    _check_generated(generated, log_path)
    if not target.exists():
        raise BackendUnavailableError(f"building the NEST module produced no {target.name}; "
                                      f"NESTML's and the compiler's messages are in {log_path}")


def _check_generated(generated, log_path):
    """What the templates must have produced; a clear error if this NESTML did otherwise."""
    for name in generate.model_names():
        header = generated / f"{name}.h"
        if not header.exists():
            raise BackendUnavailableError(f"NESTML generated no code for {name}; messages in {log_path}")
        if "\nprivate:" in header.read_text():
            raise BackendUnavailableError(
                f"{header} still has private members: the neuron header template "
                f"({TEMPLATES_DIR / 'neuron'}) did not apply with this NESTML version (ostl builds with NESTML 9.0)")
    module_cpp = generated / f"{MODULE_NAME}.cpp"
    if not module_cpp.exists() or "ostl::register_learning_models()" not in module_cpp.read_text():
        raise BackendUnavailableError(
            f"{module_cpp} was not generated from the ostl module template ({TEMPLATES_DIR / 'module'}); "
            "this NESTML version may ignore the templates option (ostl builds with NESTML 9.0)")


def build_command(args):
    """``ostl build-nest [--force] [--verbose]``."""
    path = build(force=args.force, quiet=not args.verbose)
    print(f"NEST module: {path}")
    print(f"NESTML models generated from the reference cells: {path.parent.parent / 'models'}")
    return 0


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


_INSTALLED = set()


def install(force_build=False):
    """Build if needed and load the module into the running NEST kernel (once per kernel
    session; call again after ``nest.ResetKernel``)."""
    nest = _nest()
    path = build(force=force_build)
    if MODULE_NAME not in _INSTALLED or "snu_neuron_learning" not in nest.node_models:
        nest.Install(str(path))
        _INSTALLED.add(MODULE_NAME)
    return path

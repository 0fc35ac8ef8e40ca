"""The SpiNNaker learning kernels (``ostl/hardware/spinnaker/c/*.c``) compiled twice.

* for the host: a shared library the Python side calls through ctypes, built once per source
  hash into ``$OSTL_CACHE_DIR/spinnaker`` (default ``~/.cache/ostl/spinnaker``);
* for the ARM968 cores of SpiNNaker 1 with Debian's ``arm-none-eabi-gcc`` (``-mcpu=arm968e-s
  -marm -mfloat-abi=soft``, as spinnaker_tools builds): one object file per kernel file
  (there are no SpiNNaker board tools here to link an ``.aplx``).

``ostl spinnaker-build --out DIR`` writes both and prints the object sizes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ...cbuild import shared_library
from ...errors import BackendUnavailableError

SOURCE_DIR = Path(__file__).parent / "c"
HOST_FLAGS = ("-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared")
ARM_COMPILER = "arm-none-eabi-gcc"
ARM_FLAGS = ("-mcpu=arm968e-s", "-marm", "-mfloat-abi=soft", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
             "-ffunction-sections")
#: the helper calls the ARM objects may make: 64-bit integer division (the ARM968 has no divider);
#: ``__aeabi_uldivmod`` is kdivk in the softmax readout, and GCC declares ``__aeabi_ldivmod`` with
#: it (declared, never called: the tests check the relocations). ``memcpy``, ``memset``: copies and
#: clears (network.c, synapse_input.c), from the C library the core's runtime links.
ARM_ALLOWED_UNDEFINED = ("__aeabi_uldivmod", "__aeabi_ldivmod", "memcpy", "memset")


def sources():
    """The kernels' C sources and headers."""
    return sorted(SOURCE_DIR.glob("*.c")) + sorted(SOURCE_DIR.glob("*.h"))


def host_library():
    """The kernels as a loaded shared library (built on first use, cached by source hash)."""
    return shared_library("the SpiNNaker kernels", "spinnaker", "libostl_spinnaker.so",
                          {path.name: path.read_bytes() for path in sources()}, HOST_FLAGS)


def arm_tool(name):
    """The path of a cross tool (``gcc``, ``nm``, ``size``, ``objdump``) or a clear error."""
    tool = shutil.which(f"arm-none-eabi-{name}")
    if tool is None:
        raise BackendUnavailableError(f"arm-none-eabi-{name} not found: the ARM build needs Debian's cross compiler "
                                      "(apt-get install gcc-arm-none-eabi; `make test` installs it)")
    return tool


def arm_objects(out_dir):
    """Compile every kernel file for the ARM968 into ``out_dir``; returns the object paths.
    A warning is an error (``-Werror``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    compiler = arm_tool("gcc")
    objects = []
    for source in (p for p in sources() if p.suffix == ".c"):
        target = out_dir / (source.stem + ".o")
        done = subprocess.run([compiler, *ARM_FLAGS, "-I", str(SOURCE_DIR), "-c", str(source), "-o", str(target)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise BackendUnavailableError(f"compiling {source.name} for the ARM968 failed: {done.stderr.strip()}")
        objects.append(target)
    return objects


def object_sizes(objects):
    """``{name: (text, data, bss)}`` in bytes (``arm-none-eabi-size``)."""
    done = subprocess.run([arm_tool("size"), *[str(o) for o in objects]], capture_output=True, text=True, check=True)
    sizes = {}
    for line in done.stdout.splitlines()[1:]:
        text, data, bss, _, _, name = line.split(None, 5)
        sizes[Path(name).name] = (int(text), int(data), int(bss))
    return sizes


def build_command(args):
    """``ostl spinnaker-build --out DIR``: the host library and the ARM objects, with sizes."""
    from ...errors import ParameterError

    if not args.out:
        raise ParameterError("--out DIR is required (where the host library and the ARM objects go)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    library = Path(host_library()._name)
    shutil.copyfile(library, out / library.name)
    objects = arm_objects(out / "arm968")
    sizes = object_sizes(objects)
    print(f"host library: {out / library.name} ({(out / library.name).stat().st_size} bytes)")
    print(f"ARM968 objects ({' '.join(ARM_FLAGS)}) in {out / 'arm968'}:")
    print(f"  {'object':<22}{'text':>8}{'data':>8}{'bss':>8}")
    for name, (text, data, bss) in sizes.items():
        print(f"  {name:<22}{text:>8}{data:>8}{bss:>8}")
    total = sum(t for t, _, _ in sizes.values())
    print(f"  {'total':<22}{total:>8}   (ITCM 32 KiB: the code fits {'yes' if total <= 32768 else 'NO'})")
    return 0

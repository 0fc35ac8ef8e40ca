"""benchmarks/bench_peers.py (issue 23) runs, prints its table and summary, and refuses bad input
with one line. The peer (braintrace, ``make peers``) is left out here: its columns need JAX."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench_peers.py"


def _run(*args):
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_ours_alone_prints_every_algorithm_per_size():
    done = _run("--sizes", "16,24", "--rounds", "1", "--no-peers")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["sizes"] == [16, 24]
    assert sorted(summary["ours"]) == sorted(f"{n}/{a}" for n in (16, 24)
                                             for a in ("forward", "eprop", "ostl_no_h", "bptt", "ostl_ff"))
    assert all(value > 0 for value in summary["ours"].values())
    assert sorted(summary["ours_memory_mib"]) == sorted(summary["ours"])
    assert all(value > 0 for value in summary["ours_memory_mib"].values())
    assert "peak extra memory" in done.stdout
    assert "braintrace_float32" not in summary


def test_bad_sizes_and_rounds_exit_with_one_line():
    for args, word in ((("--sizes", "a,b"), "--sizes"), (("--rounds", "0"), "--rounds")):
        done = _run(*args, "--no-peers")
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and word in done.stderr, done.stderr


def test_precision_benchmark_reports_deviation_speed_and_training():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_precision.py"), "--sizes", "16",
                           "--iterations", "2", "--seeds", "0", "--rounds", "1"], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(summary["gradients"]) == ["16/bptt", "16/eprop", "16/ostl_no_h"]
    assert all(1e-10 < row["deviation"] < 1e-3 for row in summary["gradients"].values())
    assert sorted(summary["training"]) == ["0/float32", "0/float64"]
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_precision.py"), "--sizes", "x"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_nest_context_rows(capsys):
    """The --nest rows: µs per step from bench_nest.py's trial times (its NEST runs are tested in
    tests/test_nest_native_eprop.py and tests/test_nest_memory.py; here a stand-in row keeps NEST out)."""
    import importlib.util

    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_peers_under_test", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    seconds = {"eprop_iaf": 0.4, "bsshslm": 0.2, "ours": 0.1}
    rows = bench.nest_context([16], measure=lambda kind, n: {"trial_s": seconds[kind] * n / 16})
    assert rows == {16: {"eprop_iaf": 400.0, "bsshslm": 200.0, "ours": 100.0}}
    assert "400.0" in capsys.readouterr().out

"""Peak resident memory of one call, for the benchmarks' fresh child processes."""

from __future__ import annotations

import threading
import time

PAGE = 4096


def rss():
    """Resident set size of this process (bytes)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def peak_mib_above(run):
    """Call ``run()`` while sampling the resident memory every 0.5 ms; returns the peak
    above the memory just before the call, in MiB."""
    base = rss()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    run()
    done.set()
    sampler.join()
    return (max(peak[0], rss()) - base) / 2**20

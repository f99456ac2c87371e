"""Run every benchmark (or the ones named) and print their tables."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = {
    "tracker": "bench.tracker_bench",
    "minute": "bench.minute_bench",
    "sandbox": "bench.sandbox_bench",
    "api": "bench.api_bench",
    "alpaca": "bench.alpaca_bench",
    "metrics": "bench.metrics_bench",
    "submit": "bench.submit_bench",
    "matching": "bench.matching_bench",
    "board": "bench.board_bench",
    "reconcile": "bench.reconcile_bench",
    "upload": "bench.upload_bench",
    "ray": "bench.ray_bench",  # needs the ray extra (`make bench` installs it)
}


def main(argv: list[str]) -> int:
    # numbers after a name are that benchmark's sizes (`minute 10 100 1000`), read by it
    names = [a for a in argv if not a.isdigit()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    failed = 0
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(BENCHMARKS[name])
            module.main()
        except Exception as e:  # a broken benchmark must not hide the others' numbers
            failed += 1
            print(f"benchmark {name} failed: {type(e).__name__}: {e}")
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

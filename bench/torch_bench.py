#!/usr/bin/python3
"""torch_bench.py — the PyTorch and NumPy side of `make bench` (bench/bench.cpp runs it).

    /usr/bin/python3 bench/torch_bench.py [--quick] [--threads N] [--runs N]

Run it with Debian's /usr/bin/python3 and the Debian packages python3-torch, python3-numpy and
python3-threadpoolctl (both libraries then use the system OpenBLAS). Prints one JSON object per
line on stdout:

    {"type": "info", "blas_kernel": "SkylakeX", "torch_version": ..., ...}
    {"type": "row", "name": "sgemm-512", "unit": "GFLOP/s", "torch": 151.2, "numpy": 149.8}

Same threads for everyone: torch.set_num_threads(N) sets torch's own OpenMP pool, but torch's
matmul calls the BLAS, and OpenBLAS keeps its own thread pool, which only threadpoolctl's
threadpool_limits(N) (or OPENBLAS_NUM_THREADS before loading) can limit. OMP_WAIT_POLICY=PASSIVE
keeps idle OpenMP threads from spinning on the cores the BLAS threads need.

To add a row: write a function returning {"torch": x, "numpy": y} (either may be None) and add
an entry to BENCHMARKS with the name bench.cpp uses for the same measurement.
"""
import argparse
import json
import os
import sys
import time


def fastest_openblas_core():
    """SkylakeX (AVX-512 kernels) when the cpu has avx512f, else Haswell (AVX2)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return "SkylakeX" if " avx512f" in flags else "Haswell"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (CI)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for all")
    parser.add_argument("--runs", type=int, default=7, help="timed runs; the median is reported")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.quick:
    ARGS.runs = 1

# The environment must be set before numpy or torch load OpenBLAS and OpenMP.
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ.setdefault("OPENBLAS_CORETYPE", fastest_openblas_core())
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)


def emit(record):
    print(json.dumps(record), flush=True)


try:
    import numpy as np
except ImportError as error:
    emit({"type": "info", "error": f"numpy not importable: {error}"})
    sys.exit(0)
try:
    import torch
except ImportError as error:
    torch = None
    torch_error = str(error)
try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError as error:
    emit({"type": "info", "error": f"threadpoolctl not importable: {error}"})
    sys.exit(0)


def median_seconds(f, runs):
    """Median wall-clock seconds of `runs` calls of f, after one warm-up call."""
    f()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    return seconds[len(seconds) // 2]


# ---- the benchmarks (same names and sizes as bench.cpp) ------------------------------------


def timed_gflops(flops, numpy_f, torch_f):
    """GFLOP/s of numpy_f() and torch_f(), each a product of `flops` flops."""
    result = {"numpy": flops / median_seconds(numpy_f, ARGS.runs) / 1e9}
    if torch is not None:
        with torch.no_grad():
            result["torch"] = flops / median_seconds(torch_f, ARGS.runs) / 1e9
    return result


def sgemm(n):
    """C = A @ B, all [n, n] float32."""
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    ta, tb = (torch.from_numpy(a), torch.from_numpy(b)) if torch is not None else (None, None)
    return timed_gflops(2.0 * n * n * n, lambda: a @ b, lambda: ta @ tb)


def sgemm_transposed_b(n):
    """C = A @ B.T with B stored [n, n] row-major (a transposed view, no copy)."""
    rng = np.random.default_rng(2)
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    ta, tb = (torch.from_numpy(a), torch.from_numpy(b)) if torch is not None else (None, None)
    return timed_gflops(2.0 * n * n * n, lambda: a @ b.T, lambda: ta @ tb.t())


def attention_scores(batches, T=128, D=32):
    """scores = q @ k^T over `batches` matrices: [T, D] @ [D, T]."""
    rng = np.random.default_rng(3)
    q = rng.uniform(-1, 1, (batches, T, D)).astype(np.float32)
    k = rng.uniform(-1, 1, (batches, T, D)).astype(np.float32)
    tq, tk = (torch.from_numpy(q), torch.from_numpy(k)) if torch is not None else (None, None)
    return timed_gflops(2.0 * batches * T * T * D, lambda: q @ k.transpose(0, 2, 1),
                        lambda: tq @ tk.transpose(-2, -1))


def attention_values(batches, T=128, D=32):
    """out = weights @ v over `batches` matrices: [T, T] @ [T, D]."""
    rng = np.random.default_rng(4)
    weights = rng.uniform(0, 1, (batches, T, T)).astype(np.float32)
    v = rng.uniform(-1, 1, (batches, T, D)).astype(np.float32)
    tw, tv = (torch.from_numpy(weights), torch.from_numpy(v)) if torch is not None else (None, None)
    return timed_gflops(2.0 * batches * T * T * D, lambda: weights @ v, lambda: tw @ tv)


SIZES = [128, 256] if ARGS.quick else [128, 256, 512, 1024, 2048]
N_TRANSPOSED = 256 if ARGS.quick else 1024
BATCHES = 16 if ARGS.quick else 256
BENCHMARKS = [(f"sgemm-{n}", "GFLOP/s", lambda n=n: sgemm(n)) for n in SIZES]
BENCHMARKS += [
    (f"sgemm-{N_TRANSPOSED}-bT", "GFLOP/s", lambda: sgemm_transposed_b(N_TRANSPOSED)),
    (f"bmm-qkT-{BATCHES}x128x32", "GFLOP/s", lambda: attention_scores(BATCHES)),
    (f"bmm-pv-{BATCHES}x128x128", "GFLOP/s", lambda: attention_values(BATCHES)),
]
# New rows go here, e.g.:
#   BENCHMARKS.append(("attention-fwd-bwd", "ms", attention_fwd_bwd_ms))


def main():
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    with threadpool_limits(limits=ARGS.threads):
        blas = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
        info = {
            "type": "info",
            "threads": ARGS.threads,
            "numpy_version": np.__version__,
            "torch_version": torch.__version__ if torch is not None else None,
            "blas": ", ".join(
                f"{pool.get('internal_api')} {pool.get('version')} "
                f"({pool.get('threading_layer')}, {pool.get('num_threads')} threads)"
                for pool in blas
            ) or "none found",
            # The kernel OpenBLAS chose (OPENBLAS_CORETYPE asks for one; this is what ran).
            "blas_kernel": next((pool.get("architecture") for pool in blas
                                 if pool.get("internal_api") == "openblas"), None),
            "openblas_coretype": os.environ["OPENBLAS_CORETYPE"],
        }
        if torch is None:
            info["torch_error"] = torch_error
        emit(info)
        for name, unit, run in BENCHMARKS:
            row = {"type": "row", "name": name, "unit": unit, "torch": None, "numpy": None}
            row.update(run())
            emit(row)


if __name__ == "__main__":
    main()

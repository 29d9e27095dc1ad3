#!/usr/bin/python3
"""torch_bench.py — the PyTorch and NumPy side of `make bench` (bench/bench.cpp runs it).

    /usr/bin/python3 bench/torch_bench.py [--quick] [--threads N] [--runs N] [--only NAMES]
                                          [--with-run] [--attention-impl auto|IMPL]
                                          [--peer-coretype auto|measure|KERNEL]
                                          [--peer-capability auto|measure|default|avx2|avx512]

Run it with Debian's /usr/bin/python3 and the Debian packages python3-torch, python3-numpy and
python3-threadpoolctl (both libraries then use the system OpenBLAS). Prints one JSON object per
line on stdout:

    {"type": "info", "blas_kernel": "SkylakeX", "aten_cpu_capability": "AVX512",
     "openblas_coretype_why": ..., "torch_version": ..., ...}
    {"type": "row", "name": "sgemm-512", "unit": "GFLOP/s", "torch": 151.2, "numpy": 149.8}
    {"type": "row", "name": "gpt-small", "unit": "ms", "torch": 150.3, "torch_params": 817920,
     "torch_attention": "packed-sdpa", ...}

The model rows (attention-fwd-bwd, gpt-small, seq2seq-small, their peak RSS, reverse-to-99)
build the architecture of nn/transformer.hpp written out in PyTorch (bench/torch_models.py).
"PyTorch at its best": each model row first times every way torch_models.py can compute
attention (a few steps each) and Adam's two implementations, keeps the fastest, reports its
median, and names the winner (torch_attention, torch_adam). Peak memory runs in a child process
(this script again, --rss-child NAME): RSS after `import torch`, then N training steps, then
the peak (VmHWM); the row's torch figure is the peak minus that import baseline.

Same threads for everyone: torch.set_num_threads(N) sets torch's own OpenMP pool, but torch's
matmul calls the BLAS, and OpenBLAS keeps its own thread pool, which only threadpoolctl's
threadpool_limits(N) (or OPENBLAS_NUM_THREADS before loading) can limit. OMP_WAIT_POLICY=PASSIVE
keeps idle OpenMP threads from spinning on the cores the BLAS threads need.

The peer's configuration (torch_env.py): the OpenBLAS kernel and ATen's vector kernels are chosen
for the cpu whatever the inherited environment says, timing the candidates in fresh processes
(this script again, --probe) where the cpu's flags do not settle it; the info line names what ran
and why.

To add a row: write a function returning {"torch": x, "numpy": y} (either may be None; more
keys are passed through to out/bench.json) and add an entry to BENCHMARKS with the name bench.cpp
uses for the same measurement. The sizes here and in bench.cpp must agree.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch_env


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (CI)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for all")
    parser.add_argument("--runs", type=int, default=7, help="timed runs; the median is reported")
    parser.add_argument("--only", default="",
                        help="comma-separated row names (or prefixes) to run; default all")
    parser.add_argument("--with-run", action="store_true",
                        help="also the reverse-to-99 row (bench/torch_reverse.py, minutes; "
                             "with --quick the tutorial's --quick run, seconds)")
    parser.add_argument("--attention-impl", default="auto",
                        help="auto (the fastest) or one of torch_models.ATTENTION_IMPLS")
    parser.add_argument("--rss-steps", type=int, default=5, help="training steps of a peak-RSS run")
    parser.add_argument("--peer-coretype", default="auto",
                        help="OPENBLAS_CORETYPE: auto (from the cpu's flags), measure (time "
                             "Haswell and SkylakeX) or a kernel name; the inherited value is "
                             "never kept")
    parser.add_argument("--peer-capability", default="auto",
                        choices=("auto", "measure") + torch_env.CAPABILITIES,
                        help="ATEN_CPU_CAPABILITY: auto (the cpu's best; times avx2 and avx512 "
                             "on an AVX-512 cpu), measure, or one of them")
    # A probe of one configuration (run by this script itself in a fresh process, see
    # torch_env.choose_peer): the environment is the parent's choice; prints its times.
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    # The peak-RSS child (run by this script itself): one model, --rss-steps steps.
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--adam", default="for-loop", help=argparse.SUPPRESS)
    return parser.parse_args()


ARGS = parse_args()
if ARGS.quick:
    ARGS.runs = 1

# The environment must be set before numpy or torch load OpenBLAS, ATen and OpenMP. A child of
# this script (a probe, a peak-RSS run) gets its parent's choice in its environment.
if ARGS.probe or ARGS.rss_child:
    PEER = {}
    torch_env.configure(ARGS.threads)
else:
    probe_command = [sys.executable, os.path.abspath(__file__), "--probe",
                     "--threads", str(ARGS.threads)] + (["--quick"] if ARGS.quick else [])
    PEER = torch_env.choose_peer(ARGS.peer_coretype, ARGS.peer_capability, probe_command,
                                 ARGS.threads)
    torch_env.configure(ARGS.threads, PEER["openblas_coretype"] or "",
                        PEER["aten_cpu_capability"])


def emit(record):
    print(json.dumps(record), flush=True)


try:
    import numpy as np
except ImportError as error:
    emit({"type": "info", "error": f"numpy not importable: {error}"})
    sys.exit(0)
try:
    import torch
    import torch.nn.functional as F

    import torch_models as tm
except ImportError as error:
    torch = None
    torch_error = str(error)
try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError as error:
    emit({"type": "info", "error": f"threadpoolctl not importable: {error}"})
    sys.exit(0)


def median_seconds(f, runs, warmup=1):
    """Median wall-clock seconds of `runs` calls of f, after `warmup` untimed calls."""
    for _ in range(warmup):
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


# ---- the model rows -------------------------------------------------------------------------
#
# Sizes: bench.cpp's model_size() and attention_size() hold the same numbers.
MODELS = {
    "gpt-small": dict(kind="gpt", vocab=64, length=64, d_model=128, nhead=4, layers=4, d_ff=512,
                      batch=32),
    "seq2seq-small": dict(kind="seq2seq", vocab=32, length=32, d_model=128, nhead=4, layers=2,
                          d_ff=512, batch=64),
}
QUICK_MODELS = {
    "gpt-small": dict(kind="gpt", vocab=64, length=16, d_model=32, nhead=2, layers=1, d_ff=64,
                      batch=4),
    "seq2seq-small": dict(kind="seq2seq", vocab=32, length=8, d_model=32, nhead=2, layers=1,
                          d_ff=64, batch=4),
}
ATTENTION = dict(batch=32, length=128, d_model=256, nhead=8)
QUICK_ATTENTION = dict(batch=2, length=16, d_model=32, nhead=4)
TRAINING_WARMUP = 2  # untimed steps before the timed ones (Adam's state, first-touch memory)
PROBE_RUNS = 3       # timed steps per candidate when picking the fastest implementation
PICKS = {}           # model name -> (attention impl, adam foreach), from the timing rows


def model_config(name):
    return (QUICK_MODELS if ARGS.quick else MODELS)[name]


def attention_impls():
    if ARGS.attention_impl == "auto":
        return tm.ATTENTION_IMPLS
    if ARGS.attention_impl not in tm.ATTENTION_IMPLS:
        raise SystemExit(f"--attention-impl {ARGS.attention_impl}: not one of {tm.ATTENTION_IMPLS}")
    return (ARGS.attention_impl,)


def training_step(name, impl, adam_foreach, seed=0):
    """(model, step): one training step of model `name` on a fixed random batch: forward,
    cross-entropy over every position, backward, Adam (lr 3e-4)."""
    c = model_config(name)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    V, L, B = c["vocab"], c["length"], c["batch"]
    if c["kind"] == "gpt":
        model = tm.GPT(V, L, c["d_model"], c["nhead"], c["layers"], c["d_ff"], impl)
        ids = torch.randint(0, V, (B, L), generator=gen)
        targets = torch.randint(0, V, (B, L), generator=gen)
        forward = lambda: model(ids)  # noqa: E731
    else:  # teacher forcing: the decoder reads tgt_in, predicts targets (random tokens, no PAD)
        model = tm.Seq2Seq(V, V, L, c["d_model"], c["nhead"], c["layers"], c["layers"],
                           c["d_ff"], impl)
        src = torch.randint(0, V, (B, L), generator=gen)
        tgt_in = torch.randint(0, V, (B, L), generator=gen)
        targets = torch.randint(0, V, (B, L), generator=gen)
        forward = lambda: model(src, tgt_in)  # noqa: E731
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, foreach=adam_foreach)

    def step():
        logits = forward()
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return model, step


def fastest(make_step, candidates):
    """The candidate whose step is fastest over a short probe, and every candidate's time (ms)."""
    probe_ms = {}
    for candidate in candidates:
        step = make_step(candidate)
        probe_ms[candidate] = 1e3 * median_seconds(step, PROBE_RUNS if not ARGS.quick else 1,
                                                   warmup=1)
        del step
    return min(probe_ms, key=probe_ms.get), probe_ms


def fastest_adam(model):
    """True when torch's multi-tensor (foreach) Adam steps this model's parameters faster than
    the default per-tensor loop (on CPU, torch 1.13 defaults to the loop)."""
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    ms = {}
    for foreach in (False, True):
        optimizer = torch.optim.Adam(params, lr=3e-4, foreach=foreach)
        ms[foreach] = 1e3 * median_seconds(optimizer.step, 1 if ARGS.quick else 9, warmup=2)
    return min(ms, key=ms.get)


def describe(probe_ms):
    return ", ".join(f"{impl} {ms:.1f}" for impl, ms in sorted(probe_ms.items(), key=lambda x: x[1]))


def attention_fwd_bwd():
    """One self-attention layer on x [B, T, E] (x requires grad, as inside a model): forward,
    then backward of sum(output * R) with a fixed random R."""
    if torch is None:
        return {}
    c = QUICK_ATTENTION if ARGS.quick else ATTENTION
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(c["batch"], c["length"], c["d_model"], generator=gen).requires_grad_()
    projection = torch.randn(c["batch"], c["length"], c["d_model"], generator=gen)

    def make_step(impl):
        torch.manual_seed(0)
        attention = tm.Attention(c["d_model"], c["nhead"], impl)

        def step():
            attention.zero_grad(set_to_none=True)
            x.grad = None
            (attention(x) * projection).sum().backward()

        step.params = tm.num_parameters(attention)
        return step

    impl, probe_ms = fastest(make_step, attention_impls())
    step = make_step(impl)
    ms = 1e3 * median_seconds(step, ARGS.runs, warmup=TRAINING_WARMUP)
    return {"torch": ms, "torch_params": step.params, "torch_attention": impl,
            "torch_probe_ms": describe(probe_ms)}


class at_threads:
    """Within `with at_threads(n):` torch's OpenMP pool and the BLAS's pool use n threads."""

    def __init__(self, threads):
        self.threads = threads

    def __enter__(self):
        self.before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        self.limiter = threadpool_limits(limits=self.threads)

    def __exit__(self, *exc):
        self.limiter.restore_original_limits()
        torch.set_num_threads(self.before)


TRAINING_MS = {}  # (model name, threads) -> ms per step, for the scaling row


def training(name, threads=None):
    """ms per training step of model `name` on `threads` threads (default --threads), with the
    fastest attention and Adam."""
    if torch is None:
        return {}
    threads = threads or ARGS.threads

    def make_step(impl):
        return training_step(name, impl, False)[1]

    with at_threads(threads):
        impl, probe_ms = fastest(make_step, attention_impls())
        model, _ = training_step(name, impl, False)
        foreach = fastest_adam(model)
        model, step = training_step(name, impl, foreach)
        ms = 1e3 * median_seconds(step, ARGS.runs, warmup=TRAINING_WARMUP)
    TRAINING_MS[(name, threads)] = ms
    if threads == ARGS.threads:
        PICKS[name] = (impl, foreach)
    return {"torch": ms, "torch_params": tm.num_parameters(model), "torch_attention": impl,
            "torch_adam": "foreach" if foreach else "for-loop",
            "torch_probe_ms": describe(probe_ms), "torch_threads": threads}


def scaling(name):
    """The 2-thread speed-up of a training step: ms at 1 thread / ms at 2 threads (the rows'
    figures when they ran, measured here otherwise)."""
    if torch is None:
        return {}
    for threads in (1, 2):
        if (name, threads) not in TRAINING_MS:
            training(name, threads)
    one, two = TRAINING_MS[(name, 1)], TRAINING_MS[(name, 2)]
    return {"torch": one / two, "torch_1thread_ms": one, "torch_2threads_ms": two}


def run_probe():
    """--probe: the times of one configuration of the environment (torch_env.choose_peer): a
    sgemm, and a gpt-small training step (the model rows' mix of torch's own kernels)."""
    n = 256 if ARGS.quick else 1024
    a, b = torch.rand(n, n), torch.rand(n, n)
    with torch.no_grad():
        gemm_ms = 1e3 * median_seconds(lambda: a @ b, 5, warmup=2)
    _, step = training_step("gpt-small", tm.ATTENTION_IMPLS[0], False)
    step_ms = 1e3 * median_seconds(step, 3 if ARGS.quick else 5, warmup=TRAINING_WARMUP)
    emit({"type": "probe", "gemm_ms": gemm_ms, "step_ms": step_ms})


def peak_rss(name):
    """Peak RSS of a child process that imports torch and trains `name` for --rss-steps steps:
    torch's figure is the peak minus the RSS right after the imports."""
    if torch is None:
        return {}
    impl, foreach = PICKS.get(name, (attention_impls()[0], False))
    command = [sys.executable, os.path.abspath(__file__), "--rss-child", name,
               "--rss-steps", str(ARGS.rss_steps), "--threads", str(ARGS.threads),
               "--attention-impl", impl, "--adam", "foreach" if foreach else "for-loop"]
    if ARGS.quick:
        command.append("--quick")
    child = subprocess.run(command, capture_output=True, text=True)
    record = None
    for line in child.stdout.splitlines():
        if line.startswith("{"):
            fields = json.loads(line)
            if fields.get("type") == "rss":
                record = fields
    if child.returncode != 0 or record is None:
        return {"torch_error": f"peak-RSS child failed: {(child.stderr or child.stdout)[-300:]}"}
    return {"torch": record["peak_mb"] - record["baseline_mb"], "torch_peak_mb": record["peak_mb"],
            "torch_baseline_mb": record["baseline_mb"], "torch_params": record["params"],
            "torch_attention": impl, "torch_steps": ARGS.rss_steps}


def rss_child(name):
    """The child of peak_rss(): the imports are done; measure, train, measure."""
    baseline = torch_env.rss_mb("VmRSS")
    model, step = training_step(name, ARGS.attention_impl, ARGS.adam == "foreach")
    for _ in range(ARGS.rss_steps):
        step()
    emit({"type": "rss", "name": name, "peak_mb": torch_env.rss_mb("VmHWM"),
          "baseline_mb": baseline, "params": tm.num_parameters(model)})


def reverse_to_99():
    """Seconds of training until 99% held-out exact match on the reverse task (make run); with
    --quick, the tutorial's --quick run instead (30 small steps, a smoke test of the row)."""
    if torch is None:
        return {}
    import torch_reverse

    impl, foreach = PICKS.get("seq2seq-small", (attention_impls()[0], False))
    result = torch_reverse.run(torch, tm, impl, foreach, quick=ARGS.quick)
    return {"torch": result["seconds"], "torch_steps": result["steps"],
            "torch_accuracy": result["accuracy"], "torch_correct": result["correct"],
            "torch_total": result["total"], "torch_params": result["params"],
            "torch_attention": impl, "torch_adam": result["adam"]}


SIZES = [128, 256] if ARGS.quick else [128, 256, 512, 1024, 2048]
N_TRANSPOSED = 256 if ARGS.quick else 1024
BATCHES = 16 if ARGS.quick else 256
BENCHMARKS = [(f"sgemm-{n}", "GFLOP/s", lambda n=n: sgemm(n)) for n in SIZES]
BENCHMARKS += [
    (f"sgemm-{N_TRANSPOSED}-bT", "GFLOP/s", lambda: sgemm_transposed_b(N_TRANSPOSED)),
    (f"bmm-qkT-{BATCHES}x128x32", "GFLOP/s", lambda: attention_scores(BATCHES)),
    (f"bmm-pv-{BATCHES}x128x128", "GFLOP/s", lambda: attention_values(BATCHES)),
]
BENCHMARKS += [
    ("attention-fwd-bwd", "ms", attention_fwd_bwd),
    ("gpt-small", "ms", lambda: training("gpt-small")),
    ("gpt-small-1thread", "ms", lambda: training("gpt-small", 1)),
    ("scaling", "x", lambda: scaling("gpt-small")),
    ("seq2seq-small", "ms", lambda: training("seq2seq-small")),
    ("gpt-small-peak-rss", "MB", lambda: peak_rss("gpt-small")),
    ("seq2seq-small-peak-rss", "MB", lambda: peak_rss("seq2seq-small")),
]
if ARGS.with_run:
    BENCHMARKS.append(("reverse-to-99", "s", reverse_to_99))


def selected(name):
    """--only a,b: rows named a or b, or starting with them (e.g. sgemm)."""
    if not ARGS.only:
        return True
    return any(name == want or name.startswith(want) for want in ARGS.only.split(",") if want)


def main():
    if ARGS.probe:
        if torch is not None:
            limiter = torch_env.pin(torch, ARGS.threads)  # noqa: F841 (kept alive)
            run_probe()
        return
    if ARGS.rss_child:
        limiter = torch_env.pin(torch, ARGS.threads)  # noqa: F841 (kept alive)
        rss_child(ARGS.rss_child)
        return
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
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "aten_cpu_capability": torch_env.aten_cpu_capability(torch) if torch else None,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        }
        # What was asked for and why (the kernels above are what ran).
        info.update({"peer_" + key: value for key, value in PEER.items()})
        if torch is None:
            info["torch_error"] = torch_error
        emit(info)
        for name, unit, run in BENCHMARKS:
            if not selected(name):
                continue
            row = {"type": "row", "name": name, "unit": unit, "torch": None, "numpy": None}
            try:
                row.update(run())
            except Exception as error:  # one broken row must not hide the others
                row["torch_error"] = f"{type(error).__name__}: {error}"
            emit(row)


if __name__ == "__main__":
    main()

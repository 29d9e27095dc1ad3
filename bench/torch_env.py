"""torch_env.py — the environment the PyTorch side of the bench runs in (no torch import here).

Call configure(threads) before numpy or torch are imported: OpenBLAS and OpenMP read these
variables once, when they load. Then pin(torch, threads) after the imports.

    OPENBLAS_CORETYPE   the fastest OpenBLAS kernel for the cpu (SkylakeX with AVX-512, else
                        Haswell); threadpoolctl reports the one that actually ran
    OPENBLAS_NUM_THREADS, OMP_NUM_THREADS   the bench's thread count, for the BLAS's own pool
                        and for torch's OpenMP pool
    OMP_WAIT_POLICY     PASSIVE: idle OpenMP threads then sleep instead of spinning on the
                        cores OpenBLAS's threads need (every row, the model rows included)
"""
import os


def fastest_openblas_core():
    """SkylakeX (AVX-512 kernels) when the cpu has avx512f, else Haswell (AVX2)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return "SkylakeX" if " avx512f" in flags else "Haswell"


def configure(threads, wait_policy="PASSIVE"):
    """Sets the variables above (call before importing numpy or torch)."""
    if wait_policy:
        os.environ["OMP_WAIT_POLICY"] = wait_policy
    os.environ.setdefault("OPENBLAS_CORETYPE", fastest_openblas_core())
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


def pin(torch, threads):
    """Limits torch's OpenMP pool and the BLAS's pool to `threads`; returns threadpoolctl's
    limiter (keep it alive), or None without threadpoolctl."""
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads)


def aten_cpu_capability(torch):
    """The vector kernels ATen dispatches to ("AVX2", "AVX512", ...), from torch's build info."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return None


def rss_mb(field):
    """A field of /proc/self/status in MB: VmRSS (resident now) or VmHWM (peak resident)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")

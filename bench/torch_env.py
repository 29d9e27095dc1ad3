"""torch_env.py — the environment the PyTorch side of the bench runs in (no torch import here).

Call configure(...) before numpy or torch are imported: OpenBLAS, ATen and OpenMP read these
variables once, when they load. Then pin(torch, threads) after the imports.

    OPENBLAS_CORETYPE   the OpenBLAS kernel. Chosen for the cpu whatever the inherited
                        environment says (a machine-wide OPENBLAS_CORETYPE=Haswell costs torch
                        15-45% on an AVX-512 cpu): SkylakeX with AVX-512, Haswell with AVX2;
                        "measure" times the candidates; a name asks for that kernel.
                        threadpoolctl reports the one that actually ran.
    ATEN_CPU_CAPABILITY the vector kernels of torch's own ops (elementwise, softmax, layer
                        norm...): default, avx2 or avx512. torch 1.13 uses AVX2 unless asked,
                        because AVX-512 is slower on some cpus, so on an AVX-512 cpu "auto"
                        times both and keeps the faster; a name asks for that one.
    OPENBLAS_NUM_THREADS, OMP_NUM_THREADS   the bench's thread count, for the BLAS's own pool
                        and for torch's OpenMP pool
    OMP_WAIT_POLICY     PASSIVE: idle OpenMP threads then sleep instead of spinning on the
                        cores OpenBLAS's threads need (every row, the model rows included)

How a candidate is timed: this script's caller gives a probe command (torch_bench.py --probe),
run once per candidate in a fresh process with that candidate's variables set (they are read
at load time, so one process cannot try two); the probe prints {"gemm_ms": ..., "step_ms": ...}.
"""
import json
import os
import subprocess

CORETYPES = ("Haswell", "SkylakeX")              # the candidates "measure" times
CAPABILITIES = ("default", "avx2", "avx512")   # ATEN_CPU_CAPABILITY's values


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            line = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        line = ""
    return set(line.split(":", 1)[-1].split())


def has_avx512(flags):
    """The AVX-512 subsets both OpenBLAS's SkylakeX kernels and ATen's avx512 kernels use."""
    return {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags


def has_avx2(flags):
    return {"avx2", "fma"} <= flags


def probe(command, variables):
    """Runs the probe command with `variables` set in its environment (an empty value: removed);
    its JSON line, or None when it failed."""
    env = dict(os.environ)
    for name, value in variables.items():
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    child = subprocess.run(command, env=env, capture_output=True, text=True)
    for line in child.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return None


def fastest(command, name, candidates, fixed, key, rounds=2):
    """The candidate value of variable `name` whose probe reports the smallest `key` (the best
    of `rounds` probes each, taken in turns so that a burst of load elsewhere does not fall on
    one candidate alone), and a description of every candidate's time."""
    times = {}
    for _ in range(rounds):
        for candidate in candidates:
            result = probe(command, dict(fixed, **{name: candidate}))
            if result is not None and result.get(key) is not None:
                times[candidate] = min(times.get(candidate, result[key]), result[key])
    if not times:
        return None, "probes failed"
    best = min(times, key=times.get)
    return best, "measured " + ", ".join(f"{c} {ms:.1f} ms" for c, ms in sorted(times.items(),
                                                                              key=lambda x: x[1]))


def choose_peer(coretype, capability, probe_command, threads):
    """The OPENBLAS_CORETYPE and ATEN_CPU_CAPABILITY to run with: {"openblas_coretype": ...,
    "openblas_coretype_why": ..., "aten_cpu_capability": ..., "aten_cpu_capability_why": ...,
    "inherited_openblas_coretype": ...}. coretype: auto | measure | a kernel name; capability:
    auto | measure | default | avx2 | avx512."""
    flags = cpu_flags()
    choice = {"inherited_openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
              "inherited_aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY")}
    fixed = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": str(threads),
             "OMP_NUM_THREADS": str(threads)}

    if coretype == "auto":
        coretype, why = (("SkylakeX", "the cpu has AVX-512") if has_avx512(flags) else
                         ("Haswell", "the cpu has AVX2, no AVX-512") if has_avx2(flags) else
                         ("", "no AVX2: OpenBLAS's own detection"))
    elif coretype == "measure":
        candidates = [c for c in CORETYPES if c != "SkylakeX" or has_avx512(flags)]
        coretype, why = fastest(probe_command, "OPENBLAS_CORETYPE", candidates, fixed, "gemm_ms")
        coretype = coretype or ""
    else:
        why = "asked for (--peer-coretype)"
    choice["openblas_coretype"], choice["openblas_coretype_why"] = coretype or None, why
    fixed["OPENBLAS_CORETYPE"] = coretype or ""  # never the inherited one

    if capability in ("auto", "measure"):
        candidates = [c for c in ("avx2", "avx512") if
                      (c == "avx2" and has_avx2(flags)) or (c == "avx512" and has_avx512(flags))]
        if capability == "auto" and len(candidates) < 2:  # nothing to be unsure about
            capability = candidates[-1] if candidates else "default"
            why = "the cpu's best" if candidates else "no AVX2"
        else:
            capability, why = fastest(probe_command, "ATEN_CPU_CAPABILITY",
                                      candidates or ["default"], fixed, "step_ms")
            capability = capability or "avx2"
    else:
        why = "asked for (--peer-capability)"
    choice["aten_cpu_capability"], choice["aten_cpu_capability_why"] = capability, why
    return choice


def configure(threads, coretype=None, capability=None, wait_policy="PASSIVE"):
    """Sets the variables above (call before importing numpy or torch). coretype and capability
    are the chosen values (choose_peer); None leaves the inherited one."""
    if wait_policy:
        os.environ["OMP_WAIT_POLICY"] = wait_policy
    if coretype:
        os.environ["OPENBLAS_CORETYPE"] = coretype
    elif coretype is not None:
        os.environ.pop("OPENBLAS_CORETYPE", None)  # "": OpenBLAS's own detection
    if capability:
        os.environ["ATEN_CPU_CAPABILITY"] = capability
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
    """The vector kernels ATen dispatches to ("AVX2", "AVX512", ...), from torch's build info
    (it reads ATEN_CPU_CAPABILITY, so this is what ran)."""
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

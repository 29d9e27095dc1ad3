"""twin_check.py — what every Python twin shares: reading the .npy files its C++ program saved
with --save, and the comparison that prints the largest difference and PASS or FAIL.

    python3 tutorials/python/06_attention_masks.py SAVE_DIR

exits 0 (PASS), 1 (FAIL: a value differs from the C++ program's by more than the tolerance) or
2 (error: numpy missing, or the saved files missing: the message names the command that writes
them). `make python` runs every twin this way.
"""
import os
import sys

try:
    import numpy as np
except ImportError:
    print(f"error: numpy is not installed for {sys.executable}: "
          "sudo apt-get install python3-numpy (or: make python, which installs it)")
    sys.exit(2)


class Saved:
    """The .npy files a C++ tutorial wrote: saved["output"] is np.load(SAVE_DIR/output.npy)."""

    def __init__(self, program, quick=True):
        self.program = program
        self.folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join("build", "python", program)
        self.command = (f"build/tutorials/{program}{' --quick' if quick else ''} "
                        f"--save {self.folder}")

    def __getitem__(self, name):
        path = os.path.join(self.folder, name + ".npy")
        if not os.path.isfile(path):
            print(f"error: {path} not found: write it with `{self.command}` (or run make python)")
            sys.exit(2)
        return np.load(path)

    def names(self):
        return sorted(f[:-4] for f in os.listdir(self.folder) if f.endswith(".npy"))


def max_diff(got, expected):
    """max |got - expected| in float64; inf when the shapes differ or a NaN appears on one side."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        return float("inf")
    if got.size == 0:
        return 0.0
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))  # equal infinities too
    diff = np.where(same, 0.0, np.abs(got - expected))
    return float(np.nan_to_num(diff, nan=np.inf).max())


def report(program, comparisons):
    """comparisons: (what, mine, the C++ program's, tolerance). Prints one line each, then
    PASS/FAIL <program>; exits 1 on FAIL."""
    failed = 0
    for what, mine, theirs, tolerance in comparisons:
        diff = max_diff(mine, theirs)
        ok = diff <= tolerance
        failed += not ok
        shape = "x".join(map(str, np.shape(theirs))) or "scalar"
        print(f"  [{'ok' if ok else 'FAILED'}] {what} [{shape}]: max |diff| {diff:.3g} "
              f"{'<=' if ok else '>'} tol {tolerance:g}")
    print(f"{'FAIL' if failed else 'PASS'} {program}: numpy/PyTorch against the C++ program"
          + (f" ({failed} of {len(comparisons)} differ)" if failed else ""))
    sys.exit(1 if failed else 0)

#!/usr/bin/env bash
# ensure_python_deps.sh — makes sure Debian's /usr/bin/python3 can import what
# bench/torch_bench.py needs, installing the Debian packages when missing:
#   python3-torch python3-numpy python3-threadpoolctl   the libraries we compare against
#   libopenblas0-pthread                                 the BLAS both of them call (without it
#                                                        Debian falls back to the slow reference
#                                                        BLAS, a meaningless comparison)
# Like tools/ensure_deps.sh: apt-get as root, or through sudo when it needs no password.
# Never fails: when nothing can be installed it says so, and `make bench` shows our figures alone.
set -u
python=/usr/bin/python3
missing=()
[ -x "$python" ] || missing+=(python3)
# find_spec looks for the modules without importing them (importing torch takes seconds).
for module in $("$python" -c 'import importlib.util as u
print(" ".join(m for m in ("torch", "numpy", "threadpoolctl") if u.find_spec(m) is None))' \
    2>/dev/null || echo torch numpy threadpoolctl); do
  missing+=("python3-$module")
done
ls /usr/lib/*/openblas-pthread/libblas.so.3 >/dev/null 2>&1 || missing+=(libopenblas0-pthread)
[ ${#missing[@]} -eq 0 ] && exit 0

command="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
echo "== bench: missing ${missing[*]}; installing: $command" >&2
if [ "$(id -u)" -eq 0 ]; then
  sh -c "$command" >&2 && exit 0
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo sh -c "$command" >&2 && exit 0
fi
echo "warning: could not install ${missing[*]}; the bench shows our figures alone. To compare, run:" >&2
echo "    sudo sh -c '$command'" >&2
exit 0

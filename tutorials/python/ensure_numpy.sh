#!/bin/sh
# ensure_numpy.sh — makes sure $PYTHON (Debian's /usr/bin/python3 by default) can import numpy,
# which every Python twin needs, installing Debian's python3-numpy when missing, the way
# bench/ensure_python_deps.sh installs the bench's packages: apt-get as root, or through sudo
# when it needs no password. torch is optional and never installed here (it is large): the twins
# that use it say SKIPPED without it and check the rest with numpy.
# Exits 0 when numpy imports, 2 with the command to run when it cannot be installed.
set -u
python=${PYTHON:-/usr/bin/python3}
"$python" -c 'import numpy' 2>/dev/null && exit 0
if [ "$python" != /usr/bin/python3 ]; then
  echo "error: $python cannot import numpy: install it for that Python, or run make python PYTHON=/usr/bin/python3" >&2
  exit 2
fi
command="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-numpy"
echo "== python: numpy missing for $python; installing: $command" >&2
if [ "$(id -u)" -eq 0 ]; then
  sh -c "$command" >&2
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo sh -c "$command" >&2
fi
"$python" -c 'import numpy' 2>/dev/null && exit 0
echo "error: could not install numpy for $python; run: sudo sh -c '$command'" >&2
exit 2

#!/usr/bin/env bash
# ensure_deps.sh — makes sure the Debian packages the build needs are installed.
#   doctest-dev  -> /usr/include/doctest/doctest.h   (tests)
#   libcli11-dev -> /usr/include/CLI/CLI.hpp         (command-line flags of every program)
#   libstb-dev   -> /usr/include/stb/stb_image_write.h (PNG pictures)
# Installs what is missing with apt-get (through sudo when not root), or prints the exact
# command to run and fails. Nothing is downloaded any other way.
set -u
missing=()
[ -f /usr/include/doctest/doctest.h ] || missing+=(doctest-dev)
[ -f /usr/include/CLI/CLI.hpp ] || missing+=(libcli11-dev)
[ -f /usr/include/stb/stb_image_write.h ] || missing+=(libstb-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

command="apt-get update && apt-get install -y ${missing[*]}"
echo "== missing build dependencies: ${missing[*]}; installing: $command" >&2
if [ "$(id -u)" -eq 0 ]; then
  sh -c "$command" >&2 && exit 0
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo sh -c "$command" >&2 && exit 0
fi
echo "error: could not install ${missing[*]} automatically. Run:" >&2
echo "    sudo sh -c '$command'" >&2
exit 1

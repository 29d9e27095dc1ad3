#!/usr/bin/env bash
# ensure_fuzz_deps.sh CXX — makes sure CXX (clang++ by default) can build libFuzzer targets
# (-fsanitize=fuzzer,address,undefined), as `make fuzz` needs.
#   clang               -> clang++ itself
#   libclang-rt-N-dev   -> libFuzzer and the sanitizer runtimes of clang N (Debian 12: N = 14)
# Installs what is missing with apt-get (through sudo when not root), or prints the exact command
# to run and fails. Nothing is downloaded any other way.
set -u
cxx=${1:-clang++}
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
  'extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }' \
  >"$probe_dir/probe.cpp"
works() {
  "$cxx" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cpp" -o "$probe_dir/probe" \
    >/dev/null 2>&1
}
works && exit 0

install() {  # install PACKAGES...: apt-get, as root or through sudo; 1 if neither is possible
  local command="apt-get update && apt-get install -y $*"
  echo "== make fuzz: installing $*: $command" >&2
  if [ "$(id -u)" -eq 0 ]; then
    sh -c "$command" >&2 && return 0
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo sh -c "$command" >&2 && return 0
  fi
  echo "error: could not install $* automatically. Run:" >&2
  echo "    sudo sh -c '$command'" >&2
  return 1
}

if ! command -v "$cxx" >/dev/null 2>&1; then
  [ "$cxx" = clang++ ] || { echo "error: FUZZ_CXX=$cxx is not a command" >&2; exit 1; }
  install clang || exit 1
fi
works && exit 0
# clang is there but libFuzzer is not: its runtime package is named after clang's major version.
major=$("$cxx" -dumpversion 2>/dev/null | cut -d. -f1)
install "libclang-rt-${major}-dev" || exit 1
works && exit 0
echo "error: $cxx still cannot link -fsanitize=fuzzer after installing libclang-rt-${major}-dev" >&2
exit 1

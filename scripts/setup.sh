#!/usr/bin/env bash
# Installs the system toolchains the tests need when they are missing. Called by `npm test`, so a newcomer and CI
# run exactly the same thing. Safe to run again: it installs only what is absent.
#   scripts/setup.sh            everything the tests need; fails when it cannot install
#   scripts/setup.sh examples   only the toolchains of the examples `npm start` serves (`example_toolchains`), and
#                               never fails: an example whose toolchain is still missing is skipped by
#                               scripts/build-examples.mjs, which says so
set -euo pipefail
mode=${1:-all}
case "$mode" in all | examples) ;; *) echo "usage: scripts/setup.sh [examples]" >&2; exit 2 ;; esac

# Debian packages the test suite uses; each line: package [command that proves it is installed].
packages=(
  "curl curl"  # the README tour test runs the README's curl lines as written
  # wasm tier fixtures (scripts/build-wasm-fixtures.mjs): C as a WASI reactor, Rust for wasm32
  "clang clang"
  "lld wasm-ld"
  "wasi-libc"
  "libclang-rt-14-dev-wasm32"
  "rustc"
  "libstd-rust-dev-wasm32"
  # process tier: OS sandbox layers and the Go plugins built with hashicorp/go-plugin (GOPATH mode, no downloads)
  "bubblewrap bwrap"
  "util-linux setpriv"
  "golang go"
  "golang-github-hashicorp-go-plugin-dev"
  "golang-google-grpc-dev"
  "protobuf-compiler protoc"
  "libprotobuf-dev"  # google/protobuf/*.proto in /usr/include: examples/go-plugins/stock imports well-known types
  "golang-goprotobuf-dev protoc-gen-go"
  "golang-opentelemetry-otel-dev"  # OpenTelemetry Go API and SDK: examples/go-plugins/plugbay-echo's own spans
  "prometheus promtool"  # observe/metrics.test: `promtool check metrics` on a live gateway's /metrics
  "chromium chromium"  # gateway dashboard browser test (playwright-core drives /usr/bin/chromium)
  # plugbay push/pull: a real OCI registry (the CNCF distribution server) and htpasswd's bcrypt for its basic auth
  "docker-registry docker-registry"
  "apache2-utils htpasswd"
  "postgresql"  # store/postgres.test: a throw-away server (initdb/postgres in /usr/lib/postgresql/<major>/bin)
)

# The examples' toolchains (scripts/build-examples.mjs), one language a line: name, then packages from the list above.
example_toolchains=(
  "c clang lld wasi-libc libclang-rt-14-dev-wasm32"
  "rust rustc libstd-rust-dev-wasm32"
  "go golang golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev protobuf-compiler libprotobuf-dev golang-goprotobuf-dev golang-opentelemetry-otel-dev"
)

# True when a package is absent: its probe command is not on PATH, or (no probe) dpkg does not list it.
absent() {
  local entry pkg probe
  for entry in "${packages[@]}"; do
    read -r pkg probe <<<"$entry"
    [ "$pkg" = "$1" ] || continue
    if [ -n "${probe:-}" ]; then ! command -v "$probe" >/dev/null 2>&1; return; fi
    break
  done
  ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

if [ "$mode" = all ]; then
  missing=()
  for entry in "${packages[@]}"; do
    read -r pkg _ <<<"$entry"
    if absent "$pkg"; then missing+=("$pkg"); fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  exit 0
fi

# examples: one apt-get per language, so a package this Debian lacks costs only its own example.
updated=
for line in "${example_toolchains[@]}"; do
  read -r lang pkgs <<<"$line"
  missing=()
  for pkg in $pkgs; do if absent "$pkg"; then missing+=("$pkg"); fi; done
  [ ${#missing[@]} -gt 0 ] || continue
  if ! command -v apt-get >/dev/null 2>&1 || { [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; }; then
    echo "setup: cannot install ${missing[*]} for the $lang example (needs apt-get, as root or with sudo); it will be skipped"
    continue
  fi
  echo "setup: installing Debian packages for the $lang example: ${missing[*]}"
  if [ -z "$updated" ]; then $SUDO apt-get update -qq || true; updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    echo "setup: installing ${missing[*]} failed; the $lang example will be skipped"
done
exit 0

#!/usr/bin/env bash
# Installs the system toolchains the tests need when they are missing. Called by `npm test`, so a newcomer and CI
# run exactly the same thing. Safe to run again: it installs only what is absent.
set -euo pipefail

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
  "golang-goprotobuf-dev protoc-gen-go"
  "prometheus promtool"  # observe/metrics.test: `promtool check metrics` on a live gateway's /metrics
  "chromium chromium"  # gateway dashboard browser test (playwright-core drives /usr/bin/chromium)
)

missing=()
for entry in "${packages[@]}"; do
  read -r pkg probe <<<"$entry"
  if [ -n "${probe:-}" ]; then command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
  else dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg"); fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

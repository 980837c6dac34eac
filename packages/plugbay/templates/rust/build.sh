#!/bin/sh
# Debian: apt-get install rustc libstd-rust-dev-wasm32 (/usr/bin/rustc: a rustup rustc earlier on PATH may lack
# the wasm32 std). With cargo and the extism-pdk crate you can use the Rust PDK instead.
set -eu
cd "$(dirname "$0")"
/usr/bin/rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib -O -C strip=debuginfo \
  -o plugin.wasm plugin.rs
echo "built plugin.wasm"

#!/bin/sh
# Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32
set -eu
cd "$(dirname "$0")"
clang --target=wasm32-wasi -mexec-model=reactor -O2 -o plugin.wasm plugin.c
echo "built plugin.wasm"

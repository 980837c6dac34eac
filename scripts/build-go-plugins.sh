#!/usr/bin/env bash
# Builds Go plugins from source with Debian's Go packages, in GOPATH mode (no module downloads): golang,
# golang-github-hashicorp-go-plugin-dev, golang-google-grpc-dev, protobuf-compiler, golang-goprotobuf-dev.
#   scripts/build-go-plugins.sh [dir...]
# Each dir holds a main.go (package main, importing plugbay.dev/goplugins/gen/plugbayv1 for the plugbay protocol or
# .../gen/kvproto); its binary lands in <dir>/bin/<basename of dir> (gitignored). Default: the plugins under
# examples/go-plugins. scripts/build-examples.mjs builds the Go examples in examples/plugins with it. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
src=$root/examples/go-plugins
if [ $# -gt 0 ]; then dirs=("$@"); else dirs=("$src/plugbay-echo" "$src/kv" "$src/kv-host" "$src/faulty"); fi
build=$(mktemp -d "${TMPDIR:-/tmp}/plugbay-go-XXXXXX")
trap 'rm -rf "$build"' EXIT

pkg=$build/src/plugbay.dev/goplugins
mkdir -p "$build/out"
mkdir -p "$pkg/gen/plugbayv1" "$pkg/gen/kvproto"
# protoc-gen-go 1.3 with its grpc plugin; the import paths are pinned with M options (the .proto files stay neutral).
mkdir -p "$build/out/plugbayv1" "$build/out/kvproto"
protoc -I "$root/proto" --go_out="plugins=grpc,Mplugbay/v1/plugin.proto=plugbay.dev/goplugins/gen/plugbayv1:$build/out/plugbayv1" plugbay/v1/plugin.proto
protoc -I "$src/kv/proto" --go_out="plugins=grpc,Mkv.proto=plugbay.dev/goplugins/gen/kvproto:$build/out/kvproto" kv.proto
find "$build/out/plugbayv1" -name '*.pb.go' -exec cp {} "$pkg/gen/plugbayv1/" \;
# kv.proto says `package proto`; its Go package is named after the directory we give it.
find "$build/out/kvproto" -name '*.pb.go' -exec sed 's/^package proto$/package kvproto/' {} \; >"$pkg/gen/kvproto/kv.pb.go"

export GO111MODULE=off GOPATH="$build:/usr/share/gocode" GOFLAGS=
# A build cache that outlives this script (the grpc packages take a minute to compile the first time).
export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/go-build}"
for dir in "${dirs[@]}"; do
  dir=$(cd "$dir" && pwd)
  name=$(basename "$dir")
  mkdir -p "$pkg/$name" "$dir/bin"
  cp "$dir/main.go" "$pkg/$name/"
  (cd "$pkg/$name" && CGO_ENABLED=0 go build -o "$dir/bin/$name" .)
  echo "built ${dir#"$root"/}/bin/$name"
done

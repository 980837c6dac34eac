#!/usr/bin/env bash
# Builds Go plugins from source with Debian's Go packages, in GOPATH mode (no module downloads): golang,
# golang-github-hashicorp-go-plugin-dev, golang-google-grpc-dev, protobuf-compiler, golang-goprotobuf-dev,
# golang-opentelemetry-otel-dev (plugbay-echo's own spans, relayed to the host by examples/go-plugins/otlprelay).
#   scripts/build-go-plugins.sh [dir...]
# Each dir holds a main.go (package main, importing plugbay.dev/goplugins/gen/plugbayv1 for the plugbay protocol or
# .../gen/kvproto, and plugbay.dev/goplugins/otlprelay for spans); its binary lands in <dir>/bin/<basename of dir> (gitignored). Default: the plugins under
# examples/go-plugins. scripts/build-examples.mjs builds the Go examples in examples/plugins with it. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
src=$root/examples/go-plugins
if [ $# -gt 0 ]; then dirs=("$@"); else dirs=("$src/plugbay-echo" "$src/kv" "$src/kv-host" "$src/stock" "$src/faulty"); fi
build=$(mktemp -d "${TMPDIR:-/tmp}/plugbay-go-XXXXXX")
trap 'rm -rf "$build"' EXIT

pkg=$build/src/plugbay.dev/goplugins
mkdir -p "$build/out"
mkdir -p "$pkg/gen/plugbayv1" "$pkg/gen/kvproto" "$pkg/gen/stockproto"
# protoc-gen-go 1.3 with its grpc plugin; the import paths are pinned with M options (the .proto files stay neutral).
mkdir -p "$build/out/plugbayv1" "$build/out/kvproto" "$build/out/stockproto"
protoc -I "$root/proto" --go_out="plugins=grpc,Mplugbay/v1/plugin.proto=plugbay.dev/goplugins/gen/plugbayv1:$build/out/plugbayv1" plugbay/v1/plugin.proto
protoc -I "$src/kv/proto" --go_out="plugins=grpc,Mkv.proto=plugbay.dev/goplugins/gen/kvproto:$build/out/kvproto" kv.proto
find "$build/out/plugbayv1" -name '*.pb.go' -exec cp {} "$pkg/gen/plugbayv1/" \;
# kv.proto says `package proto`; its Go package is named after the directory we give it.
find "$build/out/kvproto" -name '*.pb.go' -exec sed 's/^package proto$/package kvproto/' {} \; >"$pkg/gen/kvproto/kv.pb.go"
# stock.proto imports well-known types: Debian ships their Go code as github.com/golang/protobuf/ptypes/* (the
# .proto files' own go_package, google.golang.org/protobuf/types/known/*, is not packaged), so map them there.
wkt="Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp"
wkt+=",Mgoogle/protobuf/duration.proto=github.com/golang/protobuf/ptypes/duration"
wkt+=",Mgoogle/protobuf/wrappers.proto=github.com/golang/protobuf/ptypes/wrappers"
wkt+=",Mgoogle/protobuf/struct.proto=github.com/golang/protobuf/ptypes/struct"
protoc -I "$src/stock/proto" -I /usr/include --go_out="plugins=grpc,$wkt,Mstock.proto=plugbay.dev/goplugins/gen/stockproto:$build/out/stockproto" stock.proto
find "$build/out/stockproto" -name '*.pb.go' -exec sed 's/^package stock$/package stockproto/' {} \; >"$pkg/gen/stockproto/stock.pb.go"

mkdir -p "$pkg/otlprelay"
cp "$src/otlprelay/"*.go "$pkg/otlprelay/"

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

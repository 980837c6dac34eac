#!/usr/bin/env bash
# Builds bin/plugin in GOPATH mode with Debian's Go packages (no module downloads):
#   apt-get install golang golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev protobuf-compiler golang-goprotobuf-dev
# With Go modules and network, `go mod init` + `go get github.com/hashicorp/go-plugin` works as well.
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
build=$(mktemp -d "${TMPDIR:-/tmp}/plugbay-go-XXXXXX")
trap 'rm -rf "$build"' EXIT
pkg=$build/src/plugbay.dev/__SLUG__
mkdir -p "$pkg/gen/plugbayv1" "$build/out" bin
protoc -I proto --go_out="plugins=grpc,Mplugbay/v1/plugin.proto=plugbay.dev/__SLUG__/gen/plugbayv1:$build/out" \
  plugbay/v1/plugin.proto
find "$build/out" -name '*.pb.go' -exec cp {} "$pkg/gen/plugbayv1/" \;
cp main.go "$pkg/"
export GO111MODULE=off GOPATH="$build:/usr/share/gocode" GOFLAGS=
export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/go-build}"
(cd "$pkg" && CGO_ENABLED=0 go build -o "$here/bin/plugin" .)
echo "built bin/plugin"

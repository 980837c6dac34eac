// hash: the Go example. It serves the plugbay protocol (plugbay.v1.Plugin, proto/plugbay/v1/plugin.proto) through
// hashicorp/go-plugin, so plugbay runs it in the process tier: its own OS process, health-checked, restarted and
// stopped by the host. Based on the `plugbay new --lang go` template; built by scripts/build-examples.mjs (with
// scripts/build-go-plugins.sh) into bin/hash.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"hash"
	"hash/crc32"
	"hash/fnv"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	plugbayv1 "plugbay.dev/goplugins/gen/plugbayv1"
)

// The handshake of plugins built for plugbay (plugin.json's `handshake` says the same).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PLUGBAY_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "d7f0c3a6e2b94c1f8a5e6b7d9c0a1f2e",
}

// The algorithms plugin.json's enum allows; the host rejects any other before the call reaches this process.
var algorithms = map[string]func() hash.Hash{
	"sha256":  sha256.New,
	"sha512":  sha512.New,
	"crc32":   func() hash.Hash { return crc32.NewIEEE() },
	"fnv1a64": func() hash.Hash { return fnv.New64a() },
}

type server struct {
	log hclog.Logger
}

func (s *server) Describe(ctx context.Context, req *plugbayv1.DescribeRequest) (*plugbayv1.DescribeResponse, error) {
	// Must match plugin.json: the host refuses functions the manifest does not declare.
	return &plugbayv1.DescribeResponse{Name: "hash", Version: "1.0.0", Functions: []string{"digest"}}, nil
}

func (s *server) Start(ctx context.Context, req *plugbayv1.StartRequest) (*plugbayv1.StartResponse, error) {
	s.log.Info("started", "pid", os.Getpid())
	return &plugbayv1.StartResponse{}, nil
}

type digestInput struct {
	Text      string `json:"text"`
	Algorithm string `json:"algorithm"`
}

func (s *server) Call(ctx context.Context, req *plugbayv1.CallRequest) (*plugbayv1.CallResponse, error) {
	if req.Function != "digest" {
		return pluginError("PLUGBAY_UNKNOWN_FUNCTION", "no function "+req.Function), nil
	}
	// The host has validated the input against plugin.json's schema; it validates the output too.
	in := digestInput{Algorithm: "sha256"}
	if err := json.Unmarshal(req.Input, &in); err != nil {
		return pluginError("PLUGBAY_INVALID_INPUT", err.Error()), nil
	}
	newHash, ok := algorithms[in.Algorithm]
	if !ok {
		return pluginError("PLUGBAY_INVALID_INPUT", "unknown algorithm "+in.Algorithm), nil
	}
	h := newHash()
	h.Write([]byte(in.Text))
	out, _ := json.Marshal(map[string]interface{}{
		"algorithm": in.Algorithm,
		"hex":       hex.EncodeToString(h.Sum(nil)),
		"bytes":     len(in.Text),
	})
	return &plugbayv1.CallResponse{Output: out}, nil
}

func (s *server) Stop(ctx context.Context, req *plugbayv1.StopRequest) (*plugbayv1.StopResponse, error) {
	s.log.Info("stopping")
	return &plugbayv1.StopResponse{}, nil
}

func pluginError(code, message string) *plugbayv1.CallResponse {
	return &plugbayv1.CallResponse{Error: &plugbayv1.Error{Code: code, Message: message}}
}

type PlugbayPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl *server
}

func (p *PlugbayPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	plugbayv1.RegisterPluginServer(s, p.Impl)
	return nil
}

func (p *PlugbayPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return plugbayv1.NewPluginClient(c), nil
}

func main() {
	// hclog JSON on stderr becomes structured host logs.
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: os.Stderr, JSONFormat: true})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         map[string]plugin.Plugin{"plugbay": &PlugbayPlugin{Impl: &server{log: logger}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

// A plugbay plugin in Go: it speaks the plugbay protocol (plugbay.v1.Plugin, proto/) through hashicorp/go-plugin,
// and plugbay runs it in the process tier. Build: sh build.sh
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	plugbayv1 "plugbay.dev/__SLUG__/gen/plugbayv1"
)

// The handshake of plugins built for plugbay (the SDK's process entry uses the same values).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PLUGBAY_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "d7f0c3a6e2b94c1f8a5e6b7d9c0a1f2e",
}

type server struct {
	log    hclog.Logger
	config json.RawMessage
}

func (s *server) Describe(ctx context.Context, req *plugbayv1.DescribeRequest) (*plugbayv1.DescribeResponse, error) {
	// Must match plugin.json: the host refuses functions the manifest does not declare.
	return &plugbayv1.DescribeResponse{Name: "__NAME__", Version: "0.1.0", Functions: []string{"greet"}}, nil
}

func (s *server) Start(ctx context.Context, req *plugbayv1.StartRequest) (*plugbayv1.StartResponse, error) {
	s.config = req.Config
	s.log.Info("started")
	return &plugbayv1.StartResponse{}, nil
}

type greetInput struct {
	Name string `json:"name"`
}

func (s *server) Call(ctx context.Context, req *plugbayv1.CallRequest) (*plugbayv1.CallResponse, error) {
	switch req.Function {
	case "greet":
		// The host has validated the input against plugin.json's schema; it validates the output too.
		var in greetInput
		if err := json.Unmarshal(req.Input, &in); err != nil {
			return pluginError("PLUGBAY_INVALID_INPUT", err.Error()), nil
		}
		out, _ := json.Marshal(map[string]string{"message": "Hello, " + in.Name + "!"})
		return &plugbayv1.CallResponse{Output: out}, nil
	default:
		return pluginError("PLUGBAY_UNKNOWN_FUNCTION", "no function "+req.Function), nil
	}
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
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: os.Stderr, JSONFormat: true})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         map[string]plugin.Plugin{"plugbay": &PlugbayPlugin{Impl: &server{log: logger}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

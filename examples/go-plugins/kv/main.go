// A plain go-plugin gRPC plugin with its own KV service (as in go-plugin's examples/grpc), kept in memory.
// plugbay calls it through protocol "go-plugin" with kv.proto: Get and Put become functions.
package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"plugbay.dev/goplugins/gen/kvproto"
)

// Handshake is shared with the host through the plugin's manifest (handshake field).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "KV_PLUGIN",
	MagicCookieValue: "hello",
}

type store struct {
	mu   sync.Mutex
	data map[string][]byte
	log  hclog.Logger
}

func (s *store) Get(ctx context.Context, req *kvproto.GetRequest) (*kvproto.GetResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[req.Key]
	if !ok {
		return nil, fmt.Errorf("key %q not found", req.Key)
	}
	return &kvproto.GetResponse{Value: v}, nil
}

func (s *store) Put(ctx context.Context, req *kvproto.PutRequest) (*kvproto.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[req.Key] = req.Value
	s.log.Debug("put", "key", req.Key, "bytes", len(req.Value))
	return &kvproto.Empty{}, nil
}

// KVPlugin is the go-plugin Plugin: only the server half is used here (the host is plugbay, or go-plugin's client).
type KVPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl *store
}

func (p *KVPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	kvproto.RegisterKVServer(s, p.Impl)
	return nil
}

func (p *KVPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return kvproto.NewKVClient(c), nil
}

func main() {
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: os.Stderr, JSONFormat: true})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         map[string]plugin.Plugin{"kv": &KVPlugin{Impl: &store{data: map[string][]byte{}, log: logger}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

// A plain go-plugin gRPC plugin with its own Stock service, kept in memory. Its manifest names only the .proto and
// the service: plugbay derives the functions (Get, Set, Adjust) and their JSON Schemas from stock.proto.
package main

import (
	"context"
	"os"
	"sync"

	"github.com/golang/protobuf/proto"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"plugbay.dev/goplugins/gen/stockproto"
)

var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  3,
	MagicCookieKey:   "STOCK_PLUGIN",
	MagicCookieValue: "stock",
}

type stock struct {
	mu    sync.Mutex
	items map[string]*stockproto.Item
	log   hclog.Logger
}

func (s *stock) Get(ctx context.Context, req *stockproto.GetRequest) (*stockproto.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	item, ok := s.items[req.Sku]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no item %q", req.Sku)
	}
	return proto.Clone(item).(*stockproto.Item), nil
}

func (s *stock) Set(ctx context.Context, item *stockproto.Item) (*stockproto.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[item.Sku] = proto.Clone(item).(*stockproto.Item)
	return item, nil
}

func (s *stock) Adjust(ctx context.Context, req *stockproto.AdjustRequest) (*stockproto.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	item, ok := s.items[req.Sku]
	if !ok {
		item = &stockproto.Item{Sku: req.Sku}
		s.items[req.Sku] = item
	}
	item.Qty += req.Qty
	s.log.Debug("adjust", "sku", req.Sku, "qty", item.Qty)
	return proto.Clone(item).(*stockproto.Item), nil
}

type StockPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl *stock
}

func (p *StockPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	stockproto.RegisterStockServer(s, p.Impl)
	return nil
}

func (p *StockPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return stockproto.NewStockClient(c), nil
}

func main() {
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: os.Stderr, JSONFormat: true})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         map[string]plugin.Plugin{"stock": &StockPlugin{Impl: &stock{items: map[string]*stockproto.Item{}, log: logger}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

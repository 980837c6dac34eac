// A go-plugin KV plugin that misbehaves on purpose, for the process tier's fault tests (go-plugin's own tests
// re-run their binary in helper modes the same way). The mode is the first word of the file `fault` in its working
// directory (the plugin folder); without one it serves. The handshake it expects is FAULTY_PLUGIN=faulty,
// protocol 1, unless the mode says otherwise; a manifest with another cookie makes go-plugin refuse to run.
//
//	serve        serve KV; Get of the key "crash" exits with code 3 (crash loops on demand)
//	protocol-2   serve, but speak app protocol 2 (the handshake line names 2)
//	garbage      print lines on stdout and one on stderr, then never handshake
//	silent       print nothing and never handshake
//	exit         print a line on stderr and exit with code 2 before the handshake
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"plugbay.dev/goplugins/gen/kvproto"
)

type store struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (s *store) Get(ctx context.Context, req *kvproto.GetRequest) (*kvproto.GetResponse, error) {
	if req.Key == "crash" {
		// log writes to the process's real stderr: plugin.Serve points os.Stderr at its GRPCStdio pipe.
		log.Println("faulty: crashing on request")
		os.Exit(3)
	}
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
	return &kvproto.Empty{}, nil
}

type kvPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl *store
}

func (p *kvPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	kvproto.RegisterKVServer(s, p.impl)
	return nil
}

func (p *kvPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return kvproto.NewKVClient(c), nil
}

func main() {
	log.SetFlags(0)
	mode := "serve"
	if b, err := os.ReadFile("fault"); err == nil && len(strings.Fields(string(b))) > 0 {
		mode = strings.Fields(string(b))[0]
	}
	handshake := plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "FAULTY_PLUGIN", MagicCookieValue: "faulty"}
	switch mode {
	case "serve":
	case "protocol-2":
		handshake.ProtocolVersion = 2
	case "garbage":
		fmt.Println("hello from a Go plugin that prints before its handshake")
		fmt.Println(`{"not":"a handshake"}`)
		fmt.Fprintln(os.Stderr, "faulty: loading the config took a wrong turn")
		for {
			time.Sleep(time.Hour)
		}
	case "silent":
		for {
			time.Sleep(time.Hour)
		}
	case "exit":
		fmt.Fprintln(os.Stderr, "faulty: cannot open the config, giving up")
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "faulty: unknown mode %q\n", mode)
		os.Exit(64)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         map[string]plugin.Plugin{"kv": &kvPlugin{impl: &store{data: map[string][]byte{}}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

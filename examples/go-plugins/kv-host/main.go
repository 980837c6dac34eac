// The peer in the process-tier benchmark: hashicorp/go-plugin's own Go host launching the KV plugin and calling
// Get in a loop, as plugbay's TS host does in bench/src/process-tier.ts. Prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"log"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"plugbay.dev/goplugins/gen/kvproto"
)

type KVPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (p *KVPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error { return nil }

func (p *KVPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return kvproto.NewKVClient(c), nil
}

func main() {
	if len(os.Args) < 3 {
		log.Fatal("usage: kv-host <kv plugin binary> <calls>")
	}
	n, _ := strconv.Atoi(os.Args[2])
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "KV_PLUGIN", MagicCookieValue: "hello"},
		Plugins:          map[string]plugin.Plugin{"kv": &KVPlugin{}},
		Cmd:              exec.Command(os.Args[1]),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: ioutil.Discard}),
	})
	defer client.Kill()
	start := time.Now()
	rpc, err := client.Client()
	if err != nil {
		log.Fatal(err)
	}
	raw, err := rpc.Dispense("kv")
	if err != nil {
		log.Fatal(err)
	}
	kv := raw.(kvproto.KVClient)
	ctx := context.Background()
	if _, err := kv.Put(ctx, &kvproto.PutRequest{Key: "k", Value: []byte("0123456789abcdef0123456789abcdef")}); err != nil {
		log.Fatal(err)
	}
	cold := time.Since(start)
	for i := 0; i < n/10; i++ {
		kv.Get(ctx, &kvproto.GetRequest{Key: "k"})
	}
	times := make([]float64, n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		s := time.Now()
		if _, err := kv.Get(ctx, &kvproto.GetRequest{Key: "k"}); err != nil {
			log.Fatal(err)
		}
		times[i] = float64(time.Since(s).Microseconds())
	}
	total := time.Since(t0)
	sort.Float64s(times)
	out, _ := json.Marshal(map[string]float64{
		"p50us": times[n/2], "callsPerSec": float64(n) / total.Seconds(), "coldMs": float64(cold.Milliseconds()),
	})
	fmt.Println(string(out))
}

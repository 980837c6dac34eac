// The peer in the process-tier benchmarks: hashicorp/go-plugin's own Go host (NewClient, Dispense) launching the
// KV plugin and calling Get, as plugbay's host.call does in bench/src/go-plugin.ts.
//
//	kv-host <kv plugin binary> <calls>   sequential calls, one JSON line {p50us, callsPerSec, coldMs}
//	kv-host <kv plugin binary> rounds    then one line per round on stdin, "<calls> <concurrency>", answered by
//	                                     one JSON line {calls, concurrency, p50us, callsPerSec}; EOF ends it
//
// The rounds mode keeps one plugin process for every round, so that a benchmark can interleave its rounds with
// plugbay's on the same machine load.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"log"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
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

// run makes n Get calls from c goroutines; per-call times in µs, sorted, and the wall time of the whole round.
func run(kv kvproto.KVClient, n, c int) ([]float64, time.Duration) {
	ctx := context.Background()
	times := make([]float64, n)
	var next int64 = -1
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(n) {
					return
				}
				s := time.Now()
				if _, err := kv.Get(ctx, &kvproto.GetRequest{Key: "k"}); err != nil {
					log.Fatal(err)
				}
				times[i] = float64(time.Since(s).Nanoseconds()) / 1000
			}
		}()
	}
	wg.Wait()
	total := time.Since(t0)
	sort.Float64s(times)
	return times, total
}

func main() {
	if len(os.Args) < 3 {
		log.Fatal("usage: kv-host <kv plugin binary> <calls> | rounds")
	}
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
	if _, err := kv.Put(context.Background(), &kvproto.PutRequest{Key: "k", Value: []byte("0123456789abcdef0123456789abcdef")}); err != nil {
		log.Fatal(err)
	}
	cold := time.Since(start)

	if os.Args[2] == "rounds" {
		fmt.Println(`{"ready":true}`)
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			var n, c int
			if _, err := fmt.Sscanf(in.Text(), "%d %d", &n, &c); err != nil || n < 1 || c < 1 {
				log.Fatalf("bad round %q: want \"<calls> <concurrency>\"", in.Text())
			}
			times, total := run(kv, n, c)
			out, _ := json.Marshal(map[string]float64{
				"calls": float64(n), "concurrency": float64(c),
				"p50us": times[n/2], "callsPerSec": float64(n) / total.Seconds(),
			})
			fmt.Println(string(out))
		}
		return
	}

	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		log.Fatalf("calls must be a positive integer, got %q", os.Args[2])
	}
	run(kv, n/10+1, 1) // warm-up
	times, total := run(kv, n, 1)
	out, _ := json.Marshal(map[string]float64{
		"p50us": times[n/2], "callsPerSec": float64(n) / total.Seconds(), "coldMs": float64(cold.Milliseconds()),
	})
	fmt.Println(string(out))
}

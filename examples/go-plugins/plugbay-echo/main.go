// A Go plugin that speaks the plugbay protocol (plugbay.v1.Plugin) through hashicorp/go-plugin: plugbay loads it
// as an exec plugin like any SDK-built one.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	plugbayv1 "plugbay.dev/goplugins/gen/plugbayv1"
	"plugbay.dev/goplugins/otlprelay"
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
	// Flushes the spans still batched (otlprelay.Setup); called by Stop.
	flush func(context.Context) error
}

// metadataCarrier reads the W3C traceparent the host puts in the call's gRPC metadata.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }
func (c metadataCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

// traced starts this plugin's own span for a call, child of the host's plugbay.call span: the trace continues
// across the process boundary through the gRPC metadata.
func traced(ctx context.Context, fn string) (context.Context, trace.Span) {
	md, _ := metadata.FromIncomingContext(ctx)
	ctx = otel.GetTextMapPropagator().Extract(ctx, metadataCarrier(md))
	return otel.Tracer("plugbay.dev/goplugins/plugbay-echo").Start(ctx, "go-echo "+fn,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("rpc.system", "grpc"), attribute.String("rpc.method", fn)))
}

func (s *server) Describe(ctx context.Context, req *plugbayv1.DescribeRequest) (*plugbayv1.DescribeResponse, error) {
	return &plugbayv1.DescribeResponse{Name: "go-echo", Version: "1.0.0", Functions: []string{"echo", "fail", "reverse"}}, nil
}

func (s *server) Start(ctx context.Context, req *plugbayv1.StartRequest) (*plugbayv1.StartResponse, error) {
	s.config = req.Config
	s.log.Info("started", "config", string(req.Config))
	return &plugbayv1.StartResponse{}, nil
}

func (s *server) Call(ctx context.Context, req *plugbayv1.CallRequest) (*plugbayv1.CallResponse, error) {
	ctx, span := traced(ctx, req.Function)
	defer span.End()
	res, err := s.call(ctx, req)
	if res != nil && res.Error != nil {
		span.SetStatus(codes.Error, res.Error.Code)
	}
	return res, err
}

func (s *server) call(ctx context.Context, req *plugbayv1.CallRequest) (*plugbayv1.CallResponse, error) {
	switch req.Function {
	case "echo":
		var input interface{}
		if err := json.Unmarshal(req.Input, &input); err != nil {
			return pluginError("PLUGBAY_INVALID_INPUT", err.Error()), nil
		}
		md := req.Metadata
		if md == nil {
			md = &plugbayv1.CallMetadata{}
		}
		// The same values arrive the standard gRPC way too, for interceptors (OpenTelemetry) and context deadlines.
		grpcMd, _ := metadata.FromIncomingContext(ctx)
		_, hasDeadline := ctx.Deadline()
		out, _ := json.Marshal(map[string]interface{}{
			"input": input, "lang": "go", "key": md.RoutingKey, "traceparent": md.Traceparent, "pid": os.Getpid(),
			"grpc": map[string]interface{}{
				"key": grpcMd.Get("x-plugbay-key"), "traceparent": grpcMd.Get("traceparent"), "deadline": hasDeadline,
			},
		})
		return &plugbayv1.CallResponse{Output: out}, nil
	case "reverse":
		// codec "bytes": the input is the raw bytes, not JSON; so is the output (reversed, to show it was read).
		out := make([]byte, len(req.Input))
		for i, b := range req.Input {
			out[len(out)-1-i] = b
		}
		return &plugbayv1.CallResponse{Output: out}, nil
	case "fail":
		return pluginError("GO_FAILED", "the Go plugin says no"), nil
	default:
		return pluginError("PLUGBAY_UNKNOWN_FUNCTION", "no function "+req.Function), nil
	}
}

func (s *server) Stop(ctx context.Context, req *plugbayv1.StopRequest) (*plugbayv1.StopResponse, error) {
	s.log.Info("stopping")
	_ = s.flush(ctx)
	return &plugbayv1.StopResponse{}, nil
}

func pluginError(code, message string) *plugbayv1.CallResponse {
	details, _ := json.Marshal(map[string]string{"lang": "go"})
	return &plugbayv1.CallResponse{Error: &plugbayv1.Error{Code: code, Message: message, Details: details}}
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
	flush := otlprelay.Setup()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         map[string]plugin.Plugin{"plugbay": &PlugbayPlugin{Impl: &server{log: logger, flush: flush}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

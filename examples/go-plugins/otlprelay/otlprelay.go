// Package otlprelay sends a Go plugin's spans to the plugbay host, which exports them with its own (the operator's
// OTEL_* configuration). Debian's golang-opentelemetry-otel-dev (1.1.0) ships the OpenTelemetry Go API and SDK but
// no OTLP exporter, so this is a small one: OTLP/HTTP with JSON bodies, to the unix socket the host opened for
// this plugin process (PLUGBAY_OTLP_TRACES_SOCKET). The host checks and bounds what arrives (a plugin's spans only
// join traces of calls it was given; sizes and rate are capped): see docs/observability.md.
package otlprelay

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// SocketEnv names the variable the host sets when it exports traces.
const SocketEnv = "PLUGBAY_OTLP_TRACES_SOCKET"

// Setup installs a TracerProvider that relays to the host, and the W3C trace-context propagator. Without the
// socket variable (the host exports nothing) it installs nothing: spans stay no-ops. The returned function flushes
// and stops the provider.
func Setup() func(context.Context) error {
	socket := os.Getenv(SocketEnv)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	if socket == "" {
		return func(context.Context) error { return nil }
	}
	exp := &exporter{
		client: &http.Client{
			Timeout: 5 * time.Second,
			Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", socket)
			}},
		},
	}
	// Batched, and flushed quickly: the host batches again before exporting.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(200*time.Millisecond)))
	otel.SetTracerProvider(tp)
	return tp.Shutdown
}

type exporter struct{ client *http.Client }

type anyValue struct {
	StringValue *string  `json:"stringValue,omitempty"`
	BoolValue   *bool    `json:"boolValue,omitempty"`
	IntValue    *string  `json:"intValue,omitempty"`
	DoubleValue *float64 `json:"doubleValue,omitempty"`
}

type keyValue struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

type event struct {
	TimeUnixNano string     `json:"timeUnixNano"`
	Name         string     `json:"name"`
	Attributes   []keyValue `json:"attributes,omitempty"`
}

type status struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type span struct {
	TraceID           string     `json:"traceId"`
	SpanID            string     `json:"spanId"`
	ParentSpanID      string     `json:"parentSpanId,omitempty"`
	Name              string     `json:"name"`
	Kind              int        `json:"kind"`
	StartTimeUnixNano string     `json:"startTimeUnixNano"`
	EndTimeUnixNano   string     `json:"endTimeUnixNano"`
	Attributes        []keyValue `json:"attributes,omitempty"`
	Events            []event    `json:"events,omitempty"`
	Status            status     `json:"status"`
}

type scope struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

type scopeSpans struct {
	Scope scope  `json:"scope"`
	Spans []span `json:"spans"`
}

type resourceSpans struct {
	ScopeSpans []scopeSpans `json:"scopeSpans"`
}

type exportRequest struct {
	ResourceSpans []resourceSpans `json:"resourceSpans"`
}

func nanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

func attrs(kvs []attribute.KeyValue) []keyValue {
	out := make([]keyValue, 0, len(kvs))
	for _, kv := range kvs {
		v := anyValue{}
		switch kv.Value.Type() {
		case attribute.BOOL:
			b := kv.Value.AsBool()
			v.BoolValue = &b
		case attribute.INT64:
			s := strconv.FormatInt(kv.Value.AsInt64(), 10)
			v.IntValue = &s
		case attribute.FLOAT64:
			f := kv.Value.AsFloat64()
			v.DoubleValue = &f
		default:
			s := kv.Value.Emit()
			v.StringValue = &s
		}
		out = append(out, keyValue{Key: string(kv.Key), Value: v})
	}
	return out
}

// OTLP's status codes order OK before ERROR; Go's codes put Error first.
func statusOf(s sdktrace.Status) status {
	switch s.Code {
	case codes.Ok:
		return status{Code: 1}
	case codes.Error:
		return status{Code: 2, Message: s.Description}
	}
	return status{}
}

func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	byScope := map[scope][]span{}
	for _, s := range spans {
		sc := s.SpanContext()
		tid, sid := sc.TraceID(), sc.SpanID()
		out := span{
			TraceID:           hex.EncodeToString(tid[:]),
			SpanID:            hex.EncodeToString(sid[:]),
			Name:              s.Name(),
			Kind:              int(s.SpanKind()), // the same numbering as OTLP's SpanKind
			StartTimeUnixNano: nanos(s.StartTime()),
			EndTimeUnixNano:   nanos(s.EndTime()),
			Attributes:        attrs(s.Attributes()),
			Status:            statusOf(s.Status()),
		}
		if p := s.Parent(); p.IsValid() {
			pid := p.SpanID()
			out.ParentSpanID = hex.EncodeToString(pid[:])
		}
		for _, ev := range s.Events() {
			out.Events = append(out.Events, event{TimeUnixNano: nanos(ev.Time), Name: ev.Name, Attributes: attrs(ev.Attributes)})
		}
		lib := s.InstrumentationLibrary()
		key := scope{Name: lib.Name, Version: lib.Version}
		byScope[key] = append(byScope[key], out)
	}
	req := exportRequest{ResourceSpans: []resourceSpans{{}}}
	for sc, ss := range byScope {
		req.ResourceSpans[0].ScopeSpans = append(req.ResourceSpans[0].ScopeSpans, scopeSpans{Scope: sc, Spans: ss})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	// The host is local: the URL's host part is not used for anything, the socket is the address.
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugbay/v1/traces", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("content-type", "application/json")
	res, err := e.client.Do(hr)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("otlprelay: the host answered %d", res.StatusCode)
	}
	return nil
}

func (e *exporter) Shutdown(ctx context.Context) error {
	e.client.CloseIdleConnections()
	return nil
}

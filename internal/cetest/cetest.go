// Package cetest provides a recording CloudEvents client for tests.
package cetest

import (
	"context"
	"errors"
	"net/http"
	"sync"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Recorder records the events sent through it. Fail, when set, is the
// result of every Send.
type Recorder struct {
	mu     sync.Mutex
	events []cloudevents.Event
	// Structured tells, per event, whether the sender asked for structured mode.
	structured []bool
	Fail       error
}

var _ cloudevents.Client = (*Recorder)(nil)

// Send implements cloudevents.Client.
func (r *Recorder) Send(ctx context.Context, ev cloudevents.Event) protocol.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Fail != nil {
		return r.Fail
	}
	// Every event a test produces must match the published schema.
	if err := ValidateEvent(ev.Type(), ev.DataSchema(), ev.Data()); err != nil {
		return protocol.NewResult("%v", err)
	}
	r.events = append(r.events, ev.Clone())
	r.structured = append(r.structured, encodesStructured(ctx, ev))
	return protocol.ResultACK
}

// encodesStructured writes ev as the HTTP protocol would with ctx and tells
// whether it came out in structured mode.
func encodesStructured(ctx context.Context, ev cloudevents.Event) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://sink.invalid/", nil)
	if err != nil {
		return false
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return false
	}
	return req.Header.Get("Content-Type") == cloudevents.ApplicationCloudEventsJSON
}

// Request implements cloudevents.Client; it is not used.
func (r *Recorder) Request(ctx context.Context, ev cloudevents.Event) (*cloudevents.Event, protocol.Result) {
	return nil, r.Send(ctx, ev)
}

// StartReceiver implements cloudevents.Client; it is not used.
func (r *Recorder) StartReceiver(context.Context, interface{}) error {
	return errors.New("cetest.Recorder does not receive")
}

// Events returns the events sent so far.
func (r *Recorder) Events() []cloudevents.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cloudevents.Event(nil), r.events...)
}

// Structured tells whether every event sent asked for structured mode.
func (r *Recorder) Structured() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.structured {
		if !s {
			return false
		}
	}
	return len(r.structured) > 0
}

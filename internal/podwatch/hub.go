package podwatch

import (
	"log/slog"
	"sync"
)

// streamBuffer is how many events one stream may have queued before
// [Hub.Publish] waits for it. Waiting holds up the informer's handler, whose
// own queue then grows: nothing is dropped while the stream lives.
const streamBuffer = 1024

// Hub fans events out to the connected streams. It implements the
// generic.Eventing service (serviceDesc).
type Hub struct {
	Log *slog.Logger
	// Streams is set to the number of connected streams (may be nil).
	Streams func(n int)

	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	ch   chan []byte
	gone chan struct{}
}

// Publish sends payload to every connected stream and returns how many
// there were.
func (h *Hub) Publish(payload []byte) int {
	h.mu.Lock()
	subs := make([]*subscriber, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		select {
		case s.ch <- payload:
		case <-s.gone:
		}
	}
	return len(subs)
}

// serve streams the published events to one client until it leaves.
func (h *Hub) serve(req *eventSource, send func(*event) error, done <-chan struct{}) error {
	s := &subscriber{ch: make(chan []byte, streamBuffer), gone: make(chan struct{})}
	h.change(func() {
		if h.subs == nil {
			h.subs = map[*subscriber]struct{}{}
		}
		h.subs[s] = struct{}{}
	})
	defer h.change(func() { delete(h.subs, s); close(s.gone) })
	h.Log.Info("event source connected", "event", req.Name)
	for {
		select {
		case <-done:
			h.Log.Info("event source disconnected", "event", req.Name)
			return nil
		case p := <-s.ch:
			if err := send(&event{Name: req.Name, Payload: p}); err != nil {
				h.Log.Warn("event source stream failed", "event", req.Name, "error", err)
				return err
			}
		}
	}
}

func (h *Hub) change(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f()
	if h.Streams != nil {
		h.Streams(len(h.subs))
	}
}

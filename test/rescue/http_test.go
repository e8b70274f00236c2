package rescue

import (
	"net/http"
	"strings"
	"sync"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
)

// patchCounter records the status of every PATCH of a task result.
type patchCounter struct {
	mu   sync.Mutex
	seen []int
}

func (c *patchCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return support.RoundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/workflowtaskresults/") {
			c.mu.Lock()
			c.seen = append(c.seen, resp.StatusCode)
			c.mu.Unlock()
		}
		return resp, err
	})
}

func (c *patchCounter) statuses() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.seen...)
}

// watchSignal closes ch at the first watch request whose path contains
// resource: the remediator has read and is now waiting.
type watchSignal struct {
	resource string
	once     sync.Once
	ch       chan struct{}
}

func newWatchSignal(resource string) *watchSignal {
	return &watchSignal{resource: resource, ch: make(chan struct{})}
}

func (w *watchSignal) wrap(rt http.RoundTripper) http.RoundTripper {
	return support.RoundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Query().Get("watch") == "true" && strings.Contains(req.URL.Path, "/"+w.resource) {
			w.once.Do(func() { close(w.ch) })
		}
		return rt.RoundTrip(req)
	})
}

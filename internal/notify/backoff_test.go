package notify

import (
	"context"
	"testing"
	"time"

	cecontext "github.com/cloudevents/sdk-go/v2/context"
)

// TestBackoffStartsAtTheFirstRetryDelay: Sender.Backoff (README: "from
// 500 ms") is the wait before the first retry, doubling after; the SDK's
// own period would make it twice that.
func TestBackoffStartsAtTheFirstRetryDelay(t *testing.T) {
	p := cecontext.RetriesFrom(withRetries(context.Background(), 3, 500*time.Millisecond))
	if p.MaxTries != 3 || p.Strategy != cecontext.BackoffStrategyExponential {
		t.Fatalf("retry params %+v", p)
	}
	for retry, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		if got := p.BackoffFor(retry + 1); got != want {
			t.Errorf("wait before retry %d: %s, want %s", retry+1, got, want)
		}
	}
}

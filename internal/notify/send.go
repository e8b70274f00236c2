package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// NewHTTPClient returns a CloudEvents client for the sink. The bearer token,
// when tokenFile is set, is read from that file (a mounted Secret) and only
// ever put in the Authorization header.
func NewHTTPClient(sinkURL, tokenFile string, attemptTimeout time.Duration) (cloudevents.Client, error) {
	opts := []cehttp.Option{
		cehttp.WithTarget(sinkURL),
		cehttp.WithClient(http.Client{Timeout: attemptTimeout}),
		cehttp.WithIsRetriableFunc(retriable),
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading the sink token file: %w", err)
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("the sink token file %s is empty", tokenFile)
		}
		opts = append(opts, cehttp.WithHeader("Authorization", "Bearer "+token))
	}
	p, err := cehttp.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring the sink %s: %w", sinkURL, err)
	}
	return cloudevents.NewClient(p, cloudevents.WithUUIDs(), cloudevents.WithTimeNow())
}

// retriable: throttling, timeouts and server errors are retried; a 4xx
// answer (bad request, unauthorized) will not change by itself.
func retriable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// Sender delivers events. A nil Client logs them only.
type Sender struct {
	Client  cloudevents.Client
	Retries int
	// Backoff is the first retry's delay; it doubles at each retry.
	Backoff time.Duration
	Log     *slog.Logger
}

// Send delivers ev in structured mode, retrying with exponential backoff.
func (s Sender) Send(ctx context.Context, ev cloudevents.Event) error {
	s.Log.Info("notification", "id", ev.ID(), "type", ev.Type(), "subject", ev.Subject(), "data", string(ev.Data()))
	if s.Client == nil {
		return nil
	}
	ctx = cloudevents.WithEncodingStructured(ctx)
	if s.Retries > 0 {
		ctx = withRetries(ctx, s.Retries, s.Backoff)
	}
	if res := s.Client.Send(ctx, ev); !cloudevents.IsACK(res) {
		return fmt.Errorf("delivering event %s (%s) for %s: %w", ev.ID(), ev.Type(), ev.Subject(), res)
	}
	return nil
}

// withRetries asks the SDK for exponential backoff whose first retry waits
// backoff: the SDK waits period·2^n before retry n, counting n from 1.
func withRetries(ctx context.Context, retries int, backoff time.Duration) context.Context {
	return cloudevents.ContextWithRetriesExponentialBackoff(ctx, backoff/2, retries)
}

package support

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Poll is how often [Eventually] and [Until] look.
const Poll = 50 * time.Millisecond

// Until polls cond until it holds, returns an error, or timeout passes (an
// error naming the deadline).
func Until(ctx context.Context, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, Poll, timeout, true, cond)
}

// Eventually fails the test unless cond holds within timeout.
func Eventually(tb testing.TB, what string, timeout time.Duration, cond func(context.Context) (bool, error)) {
	tb.Helper()
	if err := Until(context.Background(), timeout, cond); err != nil {
		tb.Fatalf("waiting %s for %s: %v", timeout, what, err)
	}
}

// Holds adapts a condition that cannot fail for [Eventually].
func Holds(cond func() bool) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) { return cond(), nil }
}

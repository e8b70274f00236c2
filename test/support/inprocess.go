package support

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/internal/kubeevent"
	"github.com/argo-oom-remediator/argo-oom-remediator/internal/remediate"
)

// InProcess builds the remediator's core (internal/remediate) on cfg, as
// the binary wires it, for tests that inject faults below the process:
// identity "remediator-it", a one-minute deadline and a 30 s verify
// timeout unless opts says otherwise.
func InProcess(tb testing.TB, cfg *rest.Config, opts remediate.Options) *remediate.Remediator {
	tb.Helper()
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	argo, err := versioned.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.Identity == "" {
		opts.Identity = "remediator-it"
	}
	if opts.Deadline == 0 {
		opts.Deadline = time.Minute
	}
	if opts.VerifyTimeout == 0 {
		opts.VerifyTimeout = 30 * time.Second
	}
	rec := kubeevent.Recorder{Kube: kube, Instance: opts.Identity, Log: log, Now: time.Now}
	return remediate.New(kube, argo, rec, nil, log, opts)
}

// Outcome is how one in-process run ended.
type Outcome struct {
	Res remediate.Result
	Err error
}

// Go runs r on target in the background.
func Go(r *remediate.Remediator, target remediate.Target) <-chan Outcome {
	ch := make(chan Outcome, 1)
	go func() {
		res, err := r.Run(context.Background(), target)
		ch <- Outcome{res, err}
	}()
	return ch
}

// Finish waits at most two minutes for a run started by [Go].
func Finish(tb testing.TB, ch <-chan Outcome) Outcome {
	tb.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(2 * time.Minute):
		tb.Fatal("the remediator did not finish within two minutes")
		return Outcome{}
	}
}

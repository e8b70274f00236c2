package support

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// Shared is what the tests of one package share: one control plane (each
// test works in namespaces of its own) and the remediator as shipped.
type Shared struct {
	*cluster.Cluster
	// Binary is the remediator built once by [Main].
	Binary string
}

// Main is a package's TestMain: under -short it runs nothing (the control
// plane takes seconds to start); otherwise it builds the remediator, starts
// a control plane, runs the tests and stops everything, and exits.
func Main(m *testing.M, pkg string, shared *Shared) {
	flag.Parse()
	if testing.Short() {
		fmt.Printf("%s: skipped in -short mode\n", pkg)
		os.Exit(0)
	}
	os.Exit(run(m, pkg, shared))
}

func run(m *testing.M, pkg string, shared *Shared) int {
	dir, err := os.MkdirTemp("", pkg+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, pkg+":", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if shared.Binary, err = Remediator(dir); err != nil {
		fmt.Fprintln(os.Stderr, pkg+":", err)
		return 1
	}
	began := time.Now()
	if shared.Cluster, err = cluster.Launch(context.Background(), cluster.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, pkg+":", err)
		return 1
	}
	fmt.Printf("%s: local cluster started in %s\n", pkg, time.Since(began).Round(time.Millisecond))
	defer func() {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, pkg+": stopping:", err)
		}
	}()
	return m.Run()
}

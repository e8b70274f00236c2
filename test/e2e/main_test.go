package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// env is the control plane the package's cases share; each case works in a
// namespace of its own, with a controller of its own.
var env *cluster.Cluster

// logDir keeps the controllers' and remediators' logs (E2E_LOG_DIR, else a
// temporary directory removed at the end).
var logDir string

// defaultParallel is how many cases run at once unless -parallel is given:
// cases mostly wait on controllers, so more than GOMAXPROCS (2 here) fit.
const defaultParallel = "4"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	QuietClientGo()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", defaultParallel)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	logDir = os.Getenv("E2E_LOG_DIR")
	if logDir == "" {
		dir, err := os.MkdirTemp("", "e2e-logs-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		logDir = dir
	}
	began := time.Now()
	c, err := cluster.Launch(context.Background(), cluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the cluster:", err)
		}
	}()
	fmt.Printf("e2e: local cluster started in %s; logs in %s\n", time.Since(began).Round(time.Millisecond), logDir)
	env = c
	return m.Run()
}

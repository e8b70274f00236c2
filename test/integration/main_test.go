package integration

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"
)

// env is the control plane shared by the tests of this package; each test
// works in namespaces of its own.
var env *cluster.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("integration: skipped in -short mode")
		os.Exit(0)
	}
	began := time.Now()
	c, err := cluster.Launch(context.Background(), cluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	fmt.Printf("integration: local cluster started in %s\n", time.Since(began).Round(time.Millisecond))
	env = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: stopping:", err)
	}
	os.Exit(code)
}

package restart

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/cluster"
)

var (
	// env is this package's control plane; tests restart its components.
	env *cluster.Cluster
	// binary is the remediator as shipped, built once.
	binary string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("restart: skipped in -short mode")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "restart-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "restart:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binary, err = buildRemediator(dir); err != nil {
		fmt.Fprintln(os.Stderr, "restart:", err)
		return 1
	}
	began := time.Now()
	if env, err = cluster.Launch(context.Background(), cluster.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "restart:", err)
		return 1
	}
	fmt.Printf("restart: local cluster started in %s\n", time.Since(began).Round(time.Millisecond))
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "restart: stopping:", err)
		}
	}()
	return m.Run()
}

// buildRemediator builds the remediator as shipped (static, trimmed) into
// dir, like test/integration does.
func buildRemediator(dir string) (string, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "remediator")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./remediator")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the remediator: %w\n%s", err, out)
	}
	return bin, nil
}

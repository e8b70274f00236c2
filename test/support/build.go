package support

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// Remediator builds the remediator as shipped (static, trimmed, stripped,
// no VCS stamp, with the Go toolchain GO_TOOLCHAIN of hack/versions.env:
// the flags and toolchain of `make build` and the image) into dir and
// returns its path, so that what a test runs, and the peak RSS a benchmark
// measures, are the shipped binary's. Every test package builds with the
// same flags and so shares one entry of the build cache.
func Remediator(dir string) (string, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	versions, err := cluster.Versions(root)
	if err != nil {
		return "", fmt.Errorf("reading hack/versions.env: %w", err)
	}
	toolchain := versions["GO_TOOLCHAIN"]
	if toolchain == "" {
		return "", fmt.Errorf("hack/versions.env has no GO_TOOLCHAIN")
	}
	bin := filepath.Join(dir, "remediator")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", bin, "./remediator")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN="+toolchain)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the remediator: %w\n%s", err, out)
	}
	return bin, nil
}

// BuildRemediator is [Remediator] for a test: it fails the test on error.
func BuildRemediator(tb testing.TB, dir string) string {
	tb.Helper()
	bin, err := Remediator(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// TestCommand builds the test module's command test/cmd/<name> into dir
// and returns its path. It is built without -race even under `go test
// -race`: these commands run third-party services (argo-events) or
// measured processes, whose figures and races are not the tests' subject.
func TestCommand(dir, name string) (string, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	build.Dir = filepath.Join(root, "test")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building test/cmd/%s: %w\n%s", name, err, out)
	}
	return bin, nil
}

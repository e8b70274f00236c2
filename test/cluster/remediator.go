package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildRemediator builds the remediator as shipped (static, trimmed,
// stripped) into dir and returns its path, so that what a test runs, and
// the peak RSS a benchmark measures, are the shipped binary's.
func BuildRemediator(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "remediator")
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./remediator")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building the remediator: %v\n%s", err, out)
	}
	return bin
}

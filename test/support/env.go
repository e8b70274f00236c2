package support

import (
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// Merge returns one map of all of envs, later ones winning.
func Merge(envs ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, e := range envs {
		maps.Copy(out, e)
	}
	return out
}

// WriteFile writes content to dir/name and returns the path.
func WriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Kubeconfig writes a kubeconfig for cfg to dir/name and returns the path.
func Kubeconfig(tb testing.TB, dir, name string, cfg *rest.Config) string {
	tb.Helper()
	kc, err := cluster.KubeConfigFor(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return WriteFile(tb, dir, name, string(kc))
}

// EnvInt is the positive number in the environment variable name, or def
// when it is not set; anything else fails the test.
func EnvInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a number above 0", name, v)
	}
	return n
}

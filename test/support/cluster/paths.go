package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Modules whose CRD manifests are installed, and where each keeps them.
var crdSources = []struct{ module, dir string }{
	{"github.com/argoproj/argo-workflows/v3", "manifests/base/crds/minimal"},
	{"github.com/argoproj/argo-events", "manifests/base/crds"},
}

// RepoRoot returns the repository root: the nearest ancestor of the working
// directory that holds both go.mod and hack/versions.env (nested tool modules
// under hack/tools have a go.mod but no hack/versions.env).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "hack", "versions.env")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cluster: no go.mod with hack/versions.env above the working directory; run from inside the repository")
		}
		dir = parent
	}
}

// Versions returns the NAME=value pairs of <root>/hack/versions.env, the
// single source of the pinned tool versions.
func Versions(root string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(root, "hack", "versions.env"))
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			vars[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
	}
	return vars, sc.Err()
}

// AssetsDir returns the directory holding kube-apiserver, etcd and kubectl:
// $KUBEBUILDER_ASSETS if set, else <root>/bin/k8s/<KUBERNETES_VERSION>. It
// fails with a hint to run `make tools` when a binary is missing.
func AssetsDir(root string) (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		vars, err := Versions(root)
		if err != nil {
			return "", err
		}
		if vars["KUBERNETES_VERSION"] == "" {
			return "", errors.New("cluster: KUBERNETES_VERSION missing from hack/versions.env")
		}
		dir = filepath.Join(root, "bin", "k8s", vars["KUBERNETES_VERSION"])
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if !isFile(filepath.Join(dir, name)) {
			return "", fmt.Errorf("cluster: %s not found in %s; run `make tools-cluster` (or hack/build-tools.sh cluster) first", name, dir)
		}
	}
	return dir, nil
}

// CRDDirs returns the CRD directories of the Argo Workflows and Argo Events
// modules at the versions the test module (test/go.mod) requires, downloading
// the modules into the module cache if needed. Argo Events is a test-only
// dependency: the product's go.mod does not carry it.
func CRDDirs(root string) ([]string, error) {
	var dirs []string
	for _, src := range crdSources {
		modDir, err := moduleDir(filepath.Join(root, "test"), src.module)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(modDir, filepath.FromSlash(src.dir))
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("cluster: CRDs of %s: %w", src.module, err)
		}
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// moduleDir asks the go command where module (as required by the go.mod in
// modRoot) lives in the module cache.
func moduleDir(modRoot, module string) (string, error) {
	dir, err := goCmd(modRoot, "list", "-m", "-f", "{{.Dir}}", module)
	if err == nil && dir == "" {
		// Required but not downloaded yet.
		if _, err = goCmd(modRoot, "mod", "download", module); err == nil {
			dir, err = goCmd(modRoot, "list", "-m", "-f", "{{.Dir}}", module)
		}
	}
	if err == nil && dir == "" {
		err = errors.New("module has no directory")
	}
	if err != nil {
		return "", fmt.Errorf("cluster: locating module %s: %w", module, err)
	}
	return dir, nil
}

func goCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

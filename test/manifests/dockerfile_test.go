package manifests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// dockerInstructions returns the instructions of a Dockerfile as
// [keyword, arguments] pairs, with continuation lines joined and comments
// dropped.
func dockerInstructions(data string) [][2]string {
	var out [][2]string
	var cur strings.Builder
	for _, line := range strings.Split(data, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSpace(strings.TrimSuffix(trimmed, "\\")) + " ")
			continue
		}
		cur.WriteString(trimmed)
		keyword, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, [2]string{strings.ToUpper(keyword), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// TestImageMatchesManifests: the image runs as the user the pods require,
// from distroless/static, and its binary is where the WorkflowTemplate's
// command (needed by Argo's emissary executor) says.
func TestImageMatchesManifests(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var from, user, entrypoint []string
	var goBuild string
	for _, ins := range dockerInstructions(string(data)) {
		switch ins[0] {
		case "FROM":
			from = append(from, ins[1])
		case "USER":
			user = append(user, ins[1])
		case "ENTRYPOINT":
			entrypoint = nil
			if err := json.Unmarshal([]byte(ins[1]), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT %s is not in exec (JSON) form: %v", ins[1], err)
			}
		case "RUN":
			if strings.Contains(ins[1], "go build") {
				goBuild = ins[1]
			}
		}
	}
	if len(from) < 2 || !strings.HasPrefix(from[0], "--platform=$BUILDPLATFORM golang:1.26 ") || from[len(from)-1] != "gcr.io/distroless/static:nonroot" {
		t.Errorf("FROM %q: want a golang:1.26 builder stage and gcr.io/distroless/static:nonroot last", from)
	}
	if len(user) == 0 || (user[len(user)-1] != "65532" && !strings.HasPrefix(user[len(user)-1], "65532:")) {
		t.Errorf("USER %q: the last must be 65532 (runAsUser of every pod)", user)
	}
	for _, flag := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./remediator"} {
		if !strings.Contains(goBuild, flag) {
			t.Errorf("go build in the Dockerfile (%q) lacks %s", goBuild, flag)
		}
	}
	var wt wfv1.WorkflowTemplate
	convert(t, find(t, build(t, namespacedVariant), "WorkflowTemplate", templateName), &wt)
	for _, tmpl := range wt.Spec.Templates {
		if tmpl.Container != nil && !slices.Equal(tmpl.Container.Command, entrypoint) {
			t.Errorf("WorkflowTemplate %s: command %q, but the image's ENTRYPOINT is %q", tmpl.Name, tmpl.Container.Command, entrypoint)
		}
	}
}

func TestDockerInstructions(t *testing.T) {
	got := dockerInstructions("# c\nFROM a AS b\nRUN x \\\n    y\n\nentrypoint [\"/r\"]\n")
	want := [][2]string{{"FROM", "a AS b"}, {"RUN", "x y"}, {"ENTRYPOINT", `["/r"]`}}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

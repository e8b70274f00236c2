package manifests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// imageConsts returns the string and integer constants of hack/image's
// build.go (the image tool is a main package of its own module, so it is
// read, not imported): the image's user and entrypoint come from there.
func imageConsts(t *testing.T) map[string]string {
	t.Helper()
	path := filepath.Join(repoRoot(t), "hack", "image", "build.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							v = lit.Value
						}
						consts[n.Name] = v
					}
				}
			}
		}
	}
	return consts
}

// TestImageMatchesManifests: the image (hack/image, make image) runs as the
// user the pods require, and its binary is where the WorkflowTemplate's
// command (needed by Argo's emissary executor) says. hack/image's own test
// checks that the built image's config says the same.
func TestImageMatchesManifests(t *testing.T) {
	c := imageConsts(t)
	if c["UID"] != "65532" || c["User"] != "65532:65532" {
		t.Errorf("hack/image runs as UID %q User %q, want 65532 (runAsUser of every pod)", c["UID"], c["User"])
	}
	entrypoint := []string{c["Entrypoint"]}
	if entrypoint[0] == "" {
		t.Fatal("hack/image/build.go has no Entrypoint constant")
	}
	var wt wfv1.WorkflowTemplate
	convert(t, find(t, build(t, namespacedVariant), "WorkflowTemplate", templateName), &wt)
	for _, tmpl := range wt.Spec.Templates {
		if tmpl.Container != nil && !slices.Equal(tmpl.Container.Command, entrypoint) {
			t.Errorf("WorkflowTemplate %s: command %q, but the image's entrypoint is %q", tmpl.Name, tmpl.Container.Command, entrypoint)
		}
	}
}

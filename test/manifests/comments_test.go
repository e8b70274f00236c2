package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestEveryRuleIsCommented reads the YAML sources (kustomize drops comments,
// so the built output cannot tell) and wants a comment on every RBAC rule
// saying why it exists: each item of `rules:` and each JSON patch operation
// that adds one.
func TestEveryRuleIsCommented(t *testing.T) {
	root := filepath.Join(repoRoot(t), "manifests")
	total := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		found, uncommented, err := ruleComments(data)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		}
		total += found
		for _, where := range uncommented {
			t.Errorf("%s: %s has no comment saying why it exists", rel, where)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 4 remediator + 1 EventSource + 1 Sensor rules, 1 nudge patch, 1 watch
	// patch, 2 resubmit patches.
	if total != 10 {
		t.Errorf("found %d rules in manifests/, want 10: did the walk miss some?", total)
	}
}

// ruleComments returns how many RBAC rules the YAML documents in data hold
// and where those without a head or line comment are.
func ruleComments(data []byte) (found int, uncommented []string, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 0; ; doc++ {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			return found, uncommented, nil
		} else if err != nil {
			return found, uncommented, err
		}
		if len(n.Content) == 0 {
			continue
		}
		top := n.Content[0]
		var items []*yaml.Node
		switch top.Kind {
		case yaml.MappingNode: // a Role, ClusterRole or strategic merge patch
			if rules := mapValue(top, "rules"); rules != nil && rules.Kind == yaml.SequenceNode {
				items = rules.Content
			}
		case yaml.SequenceNode: // a JSON patch
			for _, op := range top.Content {
				if p := mapValue(op, "path"); p != nil && strings.HasPrefix(p.Value, "/rules") {
					items = append(items, op)
				}
			}
		}
		for i, item := range items {
			found++
			first := i == 0 && top.Kind == yaml.SequenceNode && top.Content[0] == item
			if !commented(item) && (!first || (!commented(&n) && !commented(top))) {
				uncommented = append(uncommented, describe(doc, item))
			}
		}
	}
}

// commented tells whether n carries a comment above it or on its first line
// (yaml.v3 attaches those to n, its first key or its first value).
func commented(n *yaml.Node) bool {
	nodes := []*yaml.Node{n}
	if n.Kind == yaml.MappingNode && len(n.Content) >= 2 {
		nodes = append(nodes, n.Content[0], n.Content[1])
	}
	for _, c := range nodes {
		if c.Line == n.Line && strings.TrimSpace(c.HeadComment+c.LineComment) != "" {
			return true
		}
	}
	return false
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func describe(doc int, item *yaml.Node) string {
	return fmt.Sprintf("document %d, rule at line %d", doc+1, item.Line)
}

// TestRuleCommentCheckCanFail feeds the check rules without comments.
func TestRuleCommentCheckCanFail(t *testing.T) {
	for name, tc := range map[string]struct {
		src        string
		found, bad int
	}{
		"role": {src: `kind: Role
rules:
  # why
  - apiGroups: [""]
    resources: [pods]
    verbs: [get]
  - apiGroups: [""] # why, on the line
    resources: [pods]
    verbs: [list]
  - apiGroups: [""]
    resources: [pods]
    verbs: [watch]
`, found: 3, bad: 1},
		"json patch": {src: `- op: add
  path: /rules/-
  value: {apiGroups: [""], resources: [pods], verbs: [get]}
`, found: 1, bad: 1},
		"second document": {src: "# a Role\nkind: Role\nrules: []\n---\nkind: Role\nrules:\n  - verbs: [get]\n", found: 1, bad: 1},
	} {
		found, bad, err := ruleComments([]byte(tc.src))
		if err != nil || found != tc.found || len(bad) != tc.bad {
			t.Errorf("%s: found %d rules, uncommented %q, err %v; want %d rules, %d uncommented", name, found, bad, err, tc.found, tc.bad)
		}
	}
}

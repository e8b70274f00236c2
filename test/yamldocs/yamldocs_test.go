package yamldocs

import (
	"strings"
	"testing"
)

func TestDecodeSkipsEmptyDocuments(t *testing.T) {
	docs, err := Decode(strings.NewReader("---\na: 1\n---\n# only a comment\n---\nb: [x, \"---\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || string(docs[0]) != `{"a":1}` || string(docs[1]) != `{"b":["x","---"]}` {
		t.Errorf("got %q", docs)
	}
}

func TestDecodeNamesTheBadDocument(t *testing.T) {
	if _, err := ReadFile("/nonexistent.yaml"); err == nil {
		t.Error("a missing file read without error")
	}
	if _, err := Decode(strings.NewReader("a: [1\n")); err == nil {
		t.Error("malformed YAML decoded without error")
	}
}

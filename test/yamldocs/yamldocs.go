// Package yamldocs splits the shipped YAML manifests into their documents,
// as JSON, with the YAML decoder kubectl uses (not by "---" lines), for the
// tests that load eventsources/, sensors/ and manifests/.
package yamldocs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Decode returns every non-empty document of r as JSON.
func Decode(r io.Reader) ([]json.RawMessage, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var docs []json.RawMessage
	for {
		var doc json.RawMessage
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) > 0 && string(doc) != "null" {
			docs = append(docs, doc)
		}
	}
}

// ReadFile returns every non-empty document of the file at path as JSON.
func ReadFile(path string) ([]json.RawMessage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	docs, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return docs, nil
}

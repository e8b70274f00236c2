package wfstatus

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Storage says where a workflow keeps its nodes.
type Storage string

// Where the controller keeps a workflow's nodes.
const (
	// StorageInline: status.nodes.
	StorageInline Storage = "inline"
	// StorageCompressed: status.compressedNodes, status.nodes empty.
	StorageCompressed Storage = "compressed"
	// StorageOffloaded: the controller's database
	// (status.offloadNodeStatusVersion set); the object holds no nodes.
	StorageOffloaded Storage = "offloaded"
)

// ErrOffloaded is returned when the nodes are asked for but live in the
// controller's database.
var ErrOffloaded = errors.New("the workflow's nodes are offloaded to the controller's database")

// Nodes finds the nodes of one workflow wherever its object keeps them.
// The zero value is a workflow without nodes.
type Nodes struct {
	storage    Storage
	raw        []byte     // StorageInline from JSON: the status.nodes object
	typed      wfv1.Nodes // StorageInline from a typed Workflow
	compressed string     // StorageCompressed: base64 of gzip of the JSON
	offload    string     // StorageOffloaded: status.offloadNodeStatusVersion
}

// nodesOf picks the storage the way Argo's packer and hydrator do: offloaded
// when a version is set, compressed when status.nodes is empty and
// status.compressedNodes is not.
func nodesOf(raw []byte, typed wfv1.Nodes, compressed, offload string) Nodes {
	emptyInline := len(typed) == 0 && (len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) ||
		bytes.Equal(bytes.TrimSpace(raw), []byte("{}")))
	switch {
	case offload != "" && emptyInline:
		return Nodes{storage: StorageOffloaded, offload: offload}
	case compressed != "" && emptyInline:
		return Nodes{storage: StorageCompressed, compressed: compressed}
	}
	return Nodes{storage: StorageInline, raw: raw, typed: typed}
}

// Storage tells where the nodes are.
func (n Nodes) Storage() Storage {
	if n.storage == "" {
		return StorageInline
	}
	return n.storage
}

// OffloadVersion is status.offloadNodeStatusVersion, for offloaded nodes.
func (n Nodes) OffloadVersion() string { return n.offload }

// Get returns the node with that ID; ok is false when the workflow has no
// such node. The error is ErrOffloaded for offloaded nodes, or says why the
// nodes could not be read (a corrupt status.compressedNodes).
func (n Nodes) Get(id string) (node wfv1.NodeStatus, ok bool, err error) {
	if n.typed != nil {
		node, ok = n.typed[id]
		return node, ok, nil
	}
	err = n.scan(func(key string, dec *json.Decoder) (bool, error) {
		if key != id {
			return false, skip(dec)
		}
		ok = true
		return true, dec.Decode(&node)
	})
	if err != nil {
		return wfv1.NodeStatus{}, false, err
	}
	return node, ok, nil
}

// Pick returns the nodes with those IDs that the workflow has, reading the
// nodes once whatever their number.
func (n Nodes) Pick(ids []string) (map[string]wfv1.NodeStatus, error) {
	out := make(map[string]wfv1.NodeStatus, len(ids))
	if n.typed != nil {
		for _, id := range ids {
			if node, ok := n.typed[id]; ok {
				out[id] = node
			}
		}
		return out, nil
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	err := n.scan(func(key string, dec *json.Decoder) (bool, error) {
		if !want[key] {
			return false, skip(dec)
		}
		var node wfv1.NodeStatus
		if err := dec.Decode(&node); err != nil {
			return false, err
		}
		out[key] = node
		return len(out) == len(want), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Any tells whether some node satisfies pred. Nodes are decoded one at a
// time: only one is in memory at once.
func (n Nodes) Any(pred func(wfv1.NodeStatus) bool) (bool, error) {
	if n.typed != nil {
		return n.typed.Any(pred), nil
	}
	found := false
	err := n.scan(func(_ string, dec *json.Decoder) (bool, error) {
		var node wfv1.NodeStatus
		if err := dec.Decode(&node); err != nil {
			return false, err
		}
		found = pred(node)
		return found, nil
	})
	return found, err
}

// scan calls fn with each node's ID, positioned at its value, until fn
// returns true or an error. fn must consume the value.
func (n Nodes) scan(fn func(id string, dec *json.Decoder) (stop bool, err error)) error {
	var r io.Reader
	what := "status.nodes"
	switch n.Storage() {
	case StorageOffloaded:
		return fmt.Errorf("%w (offloadNodeStatusVersion %q)", ErrOffloaded, n.offload)
	case StorageCompressed:
		what = "status.compressedNodes"
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, strings.NewReader(n.compressed)))
		if err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
		defer func() { _ = zr.Close() }()
		r = zr
	default:
		if len(n.raw) == 0 {
			return nil
		}
		r = bytes.NewReader(n.raw)
	}
	if err := scanObject(json.NewDecoder(r), fn); err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

// scanObject walks a JSON object (or null) key by key.
func scanObject(dec *json.Decoder, fn func(key string, dec *json.Decoder) (bool, error)) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil // null: no nodes
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("want a JSON object of nodes, got %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("want a node ID, got %v", tok)
		}
		stop, err := fn(key, dec)
		if err != nil {
			return fmt.Errorf("node %q: %w", key, err)
		}
		if stop {
			return nil
		}
	}
	_, err = dec.Token() // the closing brace
	return err
}

// skip consumes one JSON value.
func skip(dec *json.Decoder) error {
	var v json.RawMessage
	return dec.Decode(&v)
}

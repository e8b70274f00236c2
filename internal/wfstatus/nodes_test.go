package wfstatus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/file"
	"github.com/argoproj/argo-workflows/v3/workflow/packer"
)

func fanOut(n int) wfv1.Nodes {
	nodes := wfv1.Nodes{}
	for i := range n {
		id := fmt.Sprintf("fan-%d", i)
		nodes[id] = wfv1.NodeStatus{ID: id, Name: "fan[" + id + "]", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded}
	}
	return nodes
}

// typedAndJSON returns the workflow both as FromTyped and as decoded from
// its JSON, the two ways the remediator meets a workflow.
func typedAndJSON(t *testing.T, wf *wfv1.Workflow) map[string]*Workflow {
	t.Helper()
	data, err := json.Marshal(wf)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Workflow{"typed": FromTyped(wf), "json": fromJSON}
}

// compressed packs the nodes with Argo's own packer code.
func compressed(t *testing.T, nodes wfv1.Nodes) *wfv1.Workflow {
	t.Helper()
	wf := &wfv1.Workflow{Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowRunning, Nodes: nodes}}
	defer packer.SetMaxWorkflowSize(5000)() // compresses 200 nodes, fits their compressed form
	if err := packer.CompressWorkflowIfNeeded(wf); err != nil {
		t.Fatal(err)
	}
	if wf.Status.CompressedNodes == "" || len(wf.Status.Nodes) != 0 {
		t.Fatalf("Argo's packer did not compress the nodes")
	}
	return wf
}

func TestNodesWhereverTheControllerKeepsThem(t *testing.T) {
	nodes := fanOut(200)
	target := nodes["fan-137"]
	target.Phase, target.Message = wfv1.NodeFailed, "OOMKilled (exit code 137)"
	nodes["fan-137"] = target
	for storage, wf := range map[Storage]*wfv1.Workflow{
		StorageInline:     {Status: wfv1.WorkflowStatus{Nodes: nodes}},
		StorageCompressed: compressed(t, nodes),
	} {
		for how, w := range typedAndJSON(t, wf) {
			t.Run(string(storage)+"/"+how, func(t *testing.T) {
				if got := w.Nodes.Storage(); got != storage {
					t.Fatalf("Storage() = %s, want %s", got, storage)
				}
				got, ok, err := w.Nodes.Get("fan-137")
				if err != nil || !ok || got.Phase != wfv1.NodeFailed || got.Message != target.Message {
					t.Fatalf("Get(fan-137) = %+v, %v, %v; want the failed node", got, ok, err)
				}
				if _, ok, err := w.Nodes.Get("no-such-node"); ok || err != nil {
					t.Fatalf("Get(no-such-node) = %v, %v; want not found, no error", ok, err)
				}
				picked, err := w.Nodes.Pick([]string{"fan-1", "fan-137", "absent"})
				if err != nil || len(picked) != 2 || picked["fan-137"].Phase != wfv1.NodeFailed {
					t.Fatalf("Pick = %v, %v; want fan-1 and fan-137", picked, err)
				}
				failed, err := w.Nodes.Any(func(n wfv1.NodeStatus) bool { return n.Phase == wfv1.NodeFailed })
				if err != nil || !failed {
					t.Fatalf("Any(failed) = %v, %v; want true", failed, err)
				}
				running, err := w.Nodes.Any(func(n wfv1.NodeStatus) bool { return !Finished(n) })
				if err != nil || running {
					t.Fatalf("Any(running) = %v, %v; want false", running, err)
				}
			})
		}
	}
}

func TestOffloadedNodesAreNotHere(t *testing.T) {
	wf := &wfv1.Workflow{Status: wfv1.WorkflowStatus{OffloadNodeStatusVersion: "fnv:1234",
		TaskResultsCompletionStatus: map[string]bool{"fan-1": false}}}
	for how, w := range typedAndJSON(t, wf) {
		t.Run(how, func(t *testing.T) {
			if w.Nodes.Storage() != StorageOffloaded || w.Nodes.OffloadVersion() != "fnv:1234" {
				t.Fatalf("storage %s %q, want offloaded fnv:1234", w.Nodes.Storage(), w.Nodes.OffloadVersion())
			}
			if _, ok, err := w.Nodes.Get("fan-1"); ok || !errors.Is(err, ErrOffloaded) {
				t.Fatalf("Get = %v, %v; want ErrOffloaded", ok, err)
			}
			if _, err := w.Nodes.Any(func(wfv1.NodeStatus) bool { return true }); !errors.Is(err, ErrOffloaded) {
				t.Fatalf("Any: %v, want ErrOffloaded", err)
			}
			if done, ok := w.Completion["fan-1"]; !ok || done {
				t.Fatal("completion entries lost")
			}
		})
	}
}

func TestCorruptCompressedNodesAreAnError(t *testing.T) {
	good := file.CompressEncodeString(`{"a":{"id":"a","phase":"Failed"}}`)
	for name, s := range map[string]string{
		"not base64":     "%%%not-base64%%%",
		"not gzip":       "aGVsbG8gd29ybGQ=",
		"not JSON":       file.CompressEncodeString("this is not json"),
		"not an object":  file.CompressEncodeString(`["a","b"]`),
		"truncated":      good[:len(good)/2],
		"bad node value": file.CompressEncodeString(`{"a":{"phase":42}}`),
	} {
		t.Run(name, func(t *testing.T) {
			w := FromTyped(&wfv1.Workflow{Status: wfv1.WorkflowStatus{CompressedNodes: s}})
			_, ok, err := w.Nodes.Get("a")
			if err == nil || ok {
				t.Fatalf("Get = %v, %v; want an error", ok, err)
			}
			if !strings.Contains(err.Error(), "status.compressedNodes") {
				t.Errorf("error %q does not name status.compressedNodes", err)
			}
		})
	}
}

func TestDecodeListKeepsOnlyWhatIsNeeded(t *testing.T) {
	list := wfv1.WorkflowList{Items: []wfv1.Workflow{{Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowRunning, Nodes: fanOut(3)}}}}
	list.ResourceVersion = "42"
	list.Items[0].Name, list.Items[0].Namespace, list.Items[0].UID = "wf", "ns", "uid-1"
	data, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	items, rv, err := DecodeList(data)
	if err != nil || rv != "42" || len(items) != 1 {
		t.Fatalf("DecodeList = %v, %q, %v", items, rv, err)
	}
	w := items[0]
	if w.Name != "wf" || w.Namespace != "ns" || w.UID != "uid-1" || w.Phase != wfv1.WorkflowRunning {
		t.Fatalf("decoded %+v", w)
	}
	if _, _, err := DecodeList([]byte(`{"items": 7}`)); err == nil {
		t.Fatal("a malformed list decoded without error")
	}
}

// FuzzNodes feeds arbitrary bytes as status.nodes and as compressed nodes:
// reading them may fail, never panic, and a node found has the ID asked for
// in its key.
func FuzzNodes(f *testing.F) {
	f.Add([]byte(`{"a":{"id":"a","phase":"Failed"}}`), "a")
	f.Add([]byte(`null`), "a")
	f.Add([]byte(`{"a":1}`), "a")
	f.Fuzz(func(t *testing.T, data []byte, id string) {
		inline, packed := nodesOf(data, nil, "", ""), nodesOf(nil, nil, file.CompressEncodeString(string(data)), "")
		_, _, _ = nodesOf(nil, nil, string(data), "").Get(id) // not base64: an error, never a panic
		// The same nodes read the same whether inline or packed, and Get and
		// Pick agree: a reader never sees a node the other does not.
		if len(bytes.TrimSpace(data)) == 0 {
			return // inline: no status.nodes at all; packed: gzip of nothing, which Argo cannot unpack either
		}
		n1, ok1, err1 := inline.Get(id)
		n2, ok2, err2 := packed.Get(id)
		if (err1 == nil) != (err2 == nil) || ok1 != ok2 || !reflect.DeepEqual(n1, n2) {
			t.Fatalf("inline (%v, %v, %+v) and packed (%v, %v, %+v) differ", ok1, err1, n1, ok2, err2, n2)
		}
		picked, err := packed.Pick([]string{id})
		if err1 == nil && err == nil {
			if got, ok := picked[id]; ok != ok1 || !reflect.DeepEqual(got, n1) {
				t.Fatalf("Pick gives (%v, %+v), Get (%v, %+v)", ok, got, ok1, n1)
			}
		}
		_, _ = inline.Any(func(wfv1.NodeStatus) bool { return false })
	})
}

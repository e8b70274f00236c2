package events

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/argo-oom-remediator/argo-oom-remediator/test/support"
	"github.com/argo-oom-remediator/argo-oom-remediator/test/support/cluster"
)

// What the pipeline does with a bad pod event.
type fate string

const (
	// noFire: the dependency filter drops the event; nothing runs.
	noFire fate = "no fire"
	// rejected: the Job the trigger renders is one the API server refuses
	// (a label value that is no label value); the trigger fails and the
	// event is dropped after its retries.
	rejected fate = "Job rejected"
	// noJob: the trigger cannot render the Job from the event (a
	// parameter's template fails); argo-events logs it and drops the event
	// after its retries.
	noJob fate = "no Job"
	// exitBadInput: the Job runs and the remediator exits 2, naming the
	// variable; the podFailurePolicy fails the Job at once.
	exitBadInput fate = "exit 2"
	// runs: the event is odd but the Job's input is valid; the remediator
	// runs normally (here, against an empty API server: exit 0).
	runs fate = "runs"
)

// payloadCase is a pod event made bad by mutating a captured one.
type payloadCase struct {
	name string
	typ  v1alpha1.ResourceEventType
	// mutate changes a pod (body, and oldBody for an UPDATE).
	mutate func(pod map[string]any)
	// body, oldBody replace the JSON of the pods when set.
	body, oldBody json.RawMessage
	want          fate
	// variable is what the remediator must name when want is exitBadInput.
	variable string
}

const (
	workflowLabel = "workflows.argoproj.io/workflow"
	nodeNameAnno  = "workflows.argoproj.io/node-name"
)

// setWorkflowLabel sets the pod's workflow label, the one the Sensor reads.
func setWorkflowLabel(value string) func(map[string]any) {
	return func(p map[string]any) { _ = unstructured.SetNestedField(p, value, "metadata", "labels", workflowLabel) }
}

func setAnnotation(key, value string) func(map[string]any) {
	return func(p map[string]any) { _ = unstructured.SetNestedField(p, value, "metadata", "annotations", key) }
}

func remove(path ...string) func(map[string]any) {
	return func(p map[string]any) { unstructured.RemoveNestedField(p, path...) }
}

func set(value any, path ...string) func(map[string]any) {
	return func(p map[string]any) { _ = unstructured.SetNestedField(p, value, path...) }
}

// dropContainer removes the named container from spec and status.
func dropContainer(name string) func(map[string]any) {
	return func(p map[string]any) {
		for _, path := range [][]string{{"spec", "containers"}, {"status", "containerStatuses"}} {
			list, _, _ := unstructured.NestedSlice(p, path...)
			var kept []any
			for _, c := range list {
				if c.(map[string]any)["name"] != name {
					kept = append(kept, c)
				}
			}
			_ = unstructured.SetNestedSlice(p, kept, path...)
		}
	}
}

// setWait sets a field of the wait container's status (path below it);
// a nil value removes the field.
func setWait(value any, path ...string) func(map[string]any) {
	return func(p map[string]any) {
		list, _, _ := unstructured.NestedSlice(p, "status", "containerStatuses")
		for _, c := range list {
			if cs, ok := c.(map[string]any); ok && cs["name"] == "wait" {
				if value == nil {
					unstructured.RemoveNestedField(cs, path...)
				} else {
					_ = unstructured.SetNestedField(cs, value, path...)
				}
			}
		}
		_ = unstructured.SetNestedSlice(p, list, "status", "containerStatuses")
	}
}

func all(fs ...func(map[string]any)) func(map[string]any) {
	return func(p map[string]any) {
		for _, f := range fs {
			f(p)
		}
	}
}

// payloadCases mutate the oom-main pod's OOM UPDATE (running →
// wait-killed: main's OOM and the wait's end in one update, as a pod-level
// OOM reports them) or its DELETE.
func payloadCases() []payloadCase {
	long := func(n int) string { return strings.Repeat("n", n) }
	up, del := v1alpha1.UPDATE, v1alpha1.DELETE
	return []payloadCase{
		{name: "missing workflow label", typ: up, mutate: remove("metadata", "labels", workflowLabel), want: noFire},
		{name: "empty workflow label", typ: up, mutate: setWorkflowLabel(""), want: noFire},
		{name: "DELETE without workflow label", typ: del, mutate: remove("metadata", "labels", workflowLabel), want: noFire},
		{name: "missing node-id annotation", typ: up, mutate: remove("metadata", "annotations", annotationNodeID), want: noFire},
		{name: "empty node-id annotation", typ: up, mutate: setAnnotation(annotationNodeID, ""), want: noFire},
		{name: "DELETE without node-id annotation", typ: del, mutate: remove("metadata", "annotations", annotationNodeID), want: noFire},
		{name: "no annotations", typ: up, mutate: remove("metadata", "annotations"), want: noFire},
		{name: "non-workflow pod: no labels, no annotations", typ: up, mutate: all(remove("metadata", "labels"), remove("metadata", "annotations")), want: noFire},
		{name: "non-workflow pod deleted", typ: del, mutate: all(remove("metadata", "labels"), remove("metadata", "annotations")), want: noFire},
		{name: "missing node-name annotation", typ: up, mutate: remove("metadata", "annotations", nodeNameAnno), want: runs},
		{name: "unicode node-name annotation", typ: up, mutate: setAnnotation(nodeNameAnno, "etl[0].träin-ステップ 🚀"), want: runs},
		{name: "node-id of 64 characters", typ: up, mutate: setAnnotation(annotationNodeID, long(64)), want: runs},
		{name: "node-id over 253 characters", typ: up, mutate: setAnnotation(annotationNodeID, long(254)), want: exitBadInput, variable: "REMEDIATOR_NODE_ID"},
		{name: "node-id of 100,000 characters", typ: del, mutate: setAnnotation(annotationNodeID, long(100000)), want: exitBadInput, variable: "REMEDIATOR_NODE_ID"},
		{name: "unicode node-id", typ: up, mutate: setAnnotation(annotationNodeID, "etl-节点-1"), want: exitBadInput, variable: "REMEDIATOR_NODE_ID"},
		{name: "node-id with a newline", typ: del, mutate: setAnnotation(annotationNodeID, "etl-1\nREMEDIATOR_DRY_RUN=true"), want: exitBadInput, variable: "REMEDIATOR_NODE_ID"},
		{name: "uppercase node-id", typ: up, mutate: setAnnotation(annotationNodeID, "ETL-1"), want: exitBadInput, variable: "REMEDIATOR_NODE_ID"},
		// Label values are at most 63 characters on a real pod; an event
		// source could still carry anything.
		{name: "workflow label of 64 characters", typ: up, mutate: setWorkflowLabel(long(64)), want: runs},
		{name: "workflow label over 253 characters", typ: up, mutate: setWorkflowLabel(long(254)), want: exitBadInput, variable: "REMEDIATOR_WORKFLOW"},
		{name: "workflow label ending in '-' past 63", typ: up, mutate: setWorkflowLabel(long(62) + "--x"), want: runs},
		{name: "unicode workflow label", typ: up, mutate: setWorkflowLabel("étl"), want: rejected},
		{name: "workflow label with underscore", typ: del, mutate: setWorkflowLabel("etl_nightly"), want: exitBadInput, variable: "REMEDIATOR_WORKFLOW"},
		{name: "pod name over 253 characters", typ: up, mutate: set(long(254), "metadata", "name"), want: exitBadInput, variable: "REMEDIATOR_POD_NAME"},
		{name: "uppercase pod name", typ: del, mutate: set("ETL-Pod", "metadata", "name"), want: exitBadInput, variable: "REMEDIATOR_POD_NAME"},
		{name: "unicode pod UID", typ: up, mutate: set("ü-🚀", "metadata", "uid"), want: exitBadInput, variable: "REMEDIATOR_POD_UID"},
		{name: "namespace over 63 characters", typ: up, mutate: set(long(64), "metadata", "namespace"), want: exitBadInput, variable: "REMEDIATOR_NAMESPACE"},
		{name: "unicode namespace", typ: del, mutate: set("équipe", "metadata", "namespace"), want: rejected},
		{name: "UPDATE without containerStatuses", typ: up, mutate: remove("status", "containerStatuses"), want: noFire},
		{name: "UPDATE without status", typ: up, mutate: remove("status"), want: noFire},
		{name: "DELETE without containerStatuses (never started)", typ: del, mutate: remove("status", "containerStatuses"), want: runs},
		{name: "UPDATE OOM without a wait container", typ: up, mutate: dropContainer("wait"), want: runs},
		{name: "DELETE without a wait container", typ: del, mutate: dropContainer("wait"), want: noFire},
		{name: "UPDATE with an empty oldBody", typ: up, oldBody: json.RawMessage(`null`), want: runs},
		{name: "UPDATE with oldBody {}", typ: up, oldBody: json.RawMessage(`{}`), want: runs},
		{name: "DELETE with oldBody {}", typ: del, oldBody: json.RawMessage(`{}`), want: runs},
		{name: "body is a string", typ: up, body: json.RawMessage(`"pod"`), want: noFire},
		{name: "body is an array", typ: del, body: json.RawMessage(`[1,2]`), want: noFire},
		{name: "body is null", typ: del, body: json.RawMessage(`null`), want: noFire},
		{name: "labels are a list", typ: up, mutate: set([]any{"a"}, "metadata", "labels"), want: noFire},
		{name: "workflow label is a number", typ: up, mutate: set(int64(42), "metadata", "labels", workflowLabel), want: noJob},
		// Issue 13: the wait container's evidence. The DELETE's last status
		// shows wait killed (exit 137); the UPDATE's shows it running unless
		// the case kills it. A value the remediator cannot parse is bad
		// input; a status the template cannot read is no evidence.
		{name: "wait exit code not a number", typ: del, mutate: setWait("killed", "state", "terminated", "exitCode"), want: exitBadInput, variable: "REMEDIATOR_WAIT_EXIT_CODE"},
		{name: "wait exit code a fraction", typ: del, mutate: setWait(1.5, "state", "terminated", "exitCode"), want: exitBadInput, variable: "REMEDIATOR_WAIT_EXIT_CODE"},
		{name: "wait exit code past int32", typ: del, mutate: setWait(int64(1)<<32, "state", "terminated", "exitCode"), want: exitBadInput, variable: "REMEDIATOR_WAIT_EXIT_CODE"},
		{name: "wait exit code negative", typ: del, mutate: setWait(int64(-1), "state", "terminated", "exitCode"), want: runs},
		{name: "wait terminated without exit code", typ: del, mutate: setWait(nil, "state", "terminated", "exitCode"), want: runs},
		{name: "wait terminated without finishedAt", typ: del, mutate: setWait(nil, "state", "terminated", "finishedAt"), want: runs},
		{name: "wait finishedAt a number", typ: del, mutate: setWait(int64(42), "state", "terminated", "finishedAt"), want: exitBadInput, variable: "REMEDIATOR_WAIT_FINISHED_AT"},
		{name: "wait finishedAt not a time", typ: del, mutate: setWait("yesterday", "state", "terminated", "finishedAt"), want: exitBadInput, variable: "REMEDIATOR_WAIT_FINISHED_AT"},
		// A status of the wrong type (no API server serves one) breaks the
		// reason template too: no Job, the sweep is the net.
		{name: "wait state a string", typ: del, mutate: setWait("terminated", "state"), want: noJob},
		{name: "wait terminated a list", typ: del, mutate: setWait([]any{"137"}, "state", "terminated"), want: noJob},
		{name: "containerStatuses a string", typ: del, mutate: set("wait", "status", "containerStatuses"), want: noJob},
	}
}

// payloadEvent is the CloudEvent of the workflow-pods EventSource for the
// given bodies, carried over the EventBus (see watcherEvent). The watcher
// only sends pods its informer decoded, so these odd bodies test the
// Sensor's own robustness, whatever feeds it.
func payloadEvent(t *testing.T, es *v1alpha1.EventSource, typ v1alpha1.ResourceEventType, body, oldBody json.RawMessage) cloudevents.Event {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"type": string(typ), "body": body, "oldBody": oldBody})
	if err != nil {
		t.Fatal(err)
	}
	return genericEvent(t, es, "workflow-pods", payload)
}

// bodies returns the JSON of the case's pods.
func (c payloadCase) bodies(t *testing.T) (body, oldBody json.RawMessage) {
	t.Helper()
	enc := func(u *unstructured.Unstructured) json.RawMessage {
		o := u.DeepCopy().Object
		if c.mutate != nil {
			c.mutate(o)
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if c.typ == v1alpha1.UPDATE {
		body, oldBody = enc(pod(t, "oom-main", "wait-killed")), enc(pod(t, "oom-main", "running"))
	} else {
		body, oldBody = enc(pod(t, "oom-main", "deleted")), json.RawMessage("null")
	}
	if c.body != nil {
		body = c.body
	}
	if c.oldBody != nil {
		oldBody = c.oldBody
	}
	return body, oldBody
}

// tryRenderJob is renderJob returning argo-events' errors instead of failing.
func tryRenderJob(s *v1alpha1.Sensor, fired map[string]cloudevents.Event) (*batchv1.Job, error) {
	fired, err := received(s, fired)
	if err != nil {
		return nil, err
	}
	trigger := s.Spec.Triggers[0].DeepCopy()
	if err := triggers.ApplyTemplateParameters(argoEvents(fired), trigger); err != nil {
		return nil, err
	}
	obj, err := triggers.FetchKubernetesResource(trigger.Template.K8s.Source)
	if err != nil {
		return nil, err
	}
	if err := triggers.ApplyResourceParameters(argoEvents(fired), trigger.Template.K8s.Parameters, obj); err != nil {
		return nil, err
	}
	job := &batchv1.Job{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, job, true); err != nil {
		return nil, err
	}
	return job, nil
}

// metaProblems lists what the API server would refuse in the Job's name
// and labels.
func metaProblems(job *batchv1.Job) []string {
	p := validation.IsDNS1123Label(job.Name)
	for k, v := range job.Labels {
		for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
			p = append(p, fmt.Sprintf("label %s=%q: %s", k, v, e))
		}
	}
	return p
}

// TestBadPayloads runs bad pod events through the shipped oom-remediation
// Sensor (argo-events' filter and trigger code) and, when a Job results,
// runs that Job's container environment (the ConfigMap, then env) with the
// real remediator binary against a recording API server. Every case ends as
// expected: the filter drops it, the Job would be refused, the remediator
// exits 2 naming the variable (and contacts nothing), or it runs normally;
// it never exits 1, which the Job would retry. A case the trigger cannot
// render (noJob) is dropped by argo-events after its retries.
func TestBadPayloads(t *testing.T) {
	sensor := loadSensor(t, "oom-remediation.yaml")
	dep := sensor.Spec.Dependencies[0]
	es := loadEventSource(t, "workflow-pods.yaml")
	bin := support.BuildRemediator(t, t.TempDir())
	api := newFakeAPIServer(t)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(sink.Close)
	dir := t.TempDir()
	kc, err := cluster.KubeConfigFor(&rest.Config{Host: api.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	configMap := configMapData(t)

	counts := map[fate]int{}
	for _, tc := range payloadCases() {
		t.Run(tc.name, func(t *testing.T) {
			body, oldBody := tc.bodies(t)
			ce := payloadEvent(t, es, tc.typ, body, oldBody)
			got := noFire
			defer func() {
				counts[got]++
				if got != tc.want {
					t.Errorf("%s, want %s", got, tc.want)
				}
			}()
			pass, err := filter(t, dep, ce)
			if err != nil {
				t.Logf("filter error (the Sensor logs a warning and drops the event): %v", err)
			}
			if !pass {
				return
			}
			job, err := tryRenderJob(sensor, map[string]cloudevents.Event{dep.Name: ce})
			if err != nil {
				got = noJob
				t.Logf("the trigger fails to render the Job: %v", err)
				return
			}
			// The name comes from sha256, whatever the input looks like.
			if errs := validation.IsDNS1123Label(job.Name); len(errs) > 0 || len(job.Name) > 63 {
				t.Errorf("Job name %q: %v", job.Name, errs)
			}
			e := env(job)
			if want := jobName(e["REMEDIATOR_NAMESPACE"], e["REMEDIATOR_NODE_ID"], e["REMEDIATOR_POD_UID"]); job.Name != want {
				t.Errorf("Job name %q, want %q", job.Name, want)
			}
			if p := metaProblems(job); len(p) > 0 {
				got = rejected
				t.Logf("the API server would refuse the Job: %v", p)
				return
			}
			api.requests.Store(0)
			code, stderr := runJob(t, bin, job, support.Merge(configMap, map[string]string{
				"REMEDIATOR_SINK_URL": sink.URL, "REMEDIATOR_KUBECONFIG": kubeconfig}))
			switch code {
			case 0:
				got = runs
				if api.requests.Load() == 0 {
					t.Errorf("exit 0 without asking the API server anything")
				}
			case 2:
				got = exitBadInput
				if !strings.Contains(stderr, tc.variable+": ") {
					t.Errorf("exit 2 without naming %s:\n%s", tc.variable, stderr)
				}
				if n := api.requests.Load(); n > 0 {
					t.Errorf("exit 2 after %d requests to the API server", n)
				}
			default:
				got = fate(fmt.Sprintf("exit %d", code))
				t.Errorf("exit %d on bad input; the Job would retry it:\n%s", code, stderr)
			}
		})
	}

	// Not JSON at all: argo-events' filter errs and drops the event.
	t.Run("malformed JSON", func(t *testing.T) {
		for _, data := range []string{`{"type":"UPDATE","body":{"metadata":`, `not json`, ``} {
			ev := &v1alpha1.Event{Context: &v1alpha1.EventContext{Type: string(v1alpha1.GenericEvent), DataContentType: "application/json",
				Source: es.Name, Subject: "workflow-pods", SpecVersion: "1.0", ID: "x", Time: metav1.Now()}, Data: []byte(data)}
			pass, err := triggersFilter(dep, ev)
			if pass {
				t.Errorf("%q: fired", data)
			}
			t.Logf("%q: filter error %v", data, err)
			counts[noFire]++
		}
	})
	t.Logf("bad payloads: %v", counts)
}

// TestBadPayloadJobsOnAPIServer creates every Job the bad payloads render
// on a real kube-apiserver (server-side dry run): it accepts exactly those
// not expected to be rejected.
func TestBadPayloadJobsOnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver and etcd; run without -short")
	}
	c := cluster.Start(t)
	ns := c.NewNamespace(t)
	sensor := loadSensor(t, "oom-remediation.yaml")
	dep := sensor.Spec.Dependencies[0]
	es := loadEventSource(t, "workflow-pods.yaml")
	n := 0
	for _, tc := range payloadCases() {
		if tc.want == noFire || tc.want == noJob {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			body, oldBody := tc.bodies(t)
			job, err := tryRenderJob(sensor, map[string]cloudevents.Event{dep.Name: payloadEvent(t, es, tc.typ, body, oldBody)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Kube.BatchV1().Jobs(ns).Create(context.Background(), job, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if refused := err != nil; refused != (tc.want == rejected) {
				t.Errorf("refused = %v (%v), want %v", refused, err, tc.want == rejected)
			}
			n++
		})
	}
	t.Logf("%d rendered Jobs dry-run on the API server", n)
}

// triggersFilter is filter() for an event whose data is not JSON, which no
// CloudEvent carried over the EventBus can hold.
func triggersFilter(dep v1alpha1.EventDependency, ev *v1alpha1.Event) (bool, error) {
	return dependencies.Filter(ev, dep.Filters, dep.FiltersLogicalOperator)
}

// runJob runs the Job's container as the kubelet would: base (the
// ConfigMap of envFrom, test overrides), then the container's env on top.
func runJob(t *testing.T, bin string, job *batchv1.Job, base map[string]string) (int, string) {
	t.Helper()
	r := support.Start(t, bin, support.EnvList(support.Merge(base, env(job))), job.Spec.Template.Spec.Containers[0].Args...).Wait(time.Minute)
	return r.Code, r.Stderr
}

// configMapData is the data of manifests/base/configmap.yaml.
func configMapData(t *testing.T) map[string]string {
	t.Helper()
	var cm corev1.ConfigMap
	loadOne(t, filepath.Join(repoRoot, "manifests", "base", "configmap.yaml"), &cm)
	if len(cm.Data) == 0 {
		t.Fatal("the ConfigMap has no data")
	}
	return cm.Data
}

// fakeAPIServer answers every list with an empty list of the right kind
// and every create with the object sent, and counts the requests: enough
// for the remediator to find that the workflow does not exist.
type fakeAPIServer struct {
	srv      *httptest.Server
	requests atomic.Int64
}

func newFakeAPIServer(t *testing.T) *fakeAPIServer {
	t.Helper()
	lists := map[string][2]string{
		"workflows":           {"argoproj.io/v1alpha1", "WorkflowList"},
		"workflowtaskresults": {"argoproj.io/v1alpha1", "WorkflowTaskResultList"},
		"pods":                {"v1", "PodList"},
		"events":              {"v1", "EventList"},
	}
	f := &fakeAPIServer{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		resource := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		switch list, ok := lists[resource]; {
		case r.Method == http.MethodGet && ok && r.URL.Query().Get("watch") != "true":
			fmt.Fprintf(w, `{"apiVersion":%q,"kind":%q,"metadata":{"resourceVersion":"1"},"items":[]}`, list[0], list[1])
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(body)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"apiVersion":"v1","kind":"Status","status":"Failure","reason":"NotFound","code":404,"message":"%s not found"}`, r.URL.Path)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

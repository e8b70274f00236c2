package manifests

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	corev1 "k8s.io/api/core/v1"
)

// templates holds the (Cluster)WorkflowTemplates of an install, for Argo's
// validation to resolve template references against.
type templates struct {
	namespaced map[string]*wfv1.WorkflowTemplate
	cluster    map[string]*wfv1.ClusterWorkflowTemplate
}

// Get implements templateresolution.WorkflowTemplateNamespacedGetter.
func (ts templates) Get(name string) (*wfv1.WorkflowTemplate, error) {
	if wt, ok := ts.namespaced[name]; ok {
		return wt.DeepCopy(), nil
	}
	return nil, fmt.Errorf("workflowtemplates.argoproj.io %q not found", name)
}

// clusterGetter implements templateresolution.ClusterWorkflowTemplateGetter.
type clusterGetter templates

func (ts clusterGetter) Get(name string) (*wfv1.ClusterWorkflowTemplate, error) {
	if cwt, ok := ts.cluster[name]; ok {
		return cwt.DeepCopy(), nil
	}
	return nil, fmt.Errorf("clusterworkflowtemplates.argoproj.io %q not found", name)
}

func installTemplates(t *testing.T, v variant) templates {
	t.Helper()
	ts := templates{namespaced: map[string]*wfv1.WorkflowTemplate{}, cluster: map[string]*wfv1.ClusterWorkflowTemplate{}}
	objs := build(t, v)
	for _, o := range objectsOf(objs, "WorkflowTemplate") {
		var wt wfv1.WorkflowTemplate
		convert(t, o, &wt)
		ts.namespaced[wt.Name] = &wt
	}
	for _, o := range objectsOf(objs, "ClusterWorkflowTemplate") {
		var cwt wfv1.ClusterWorkflowTemplate
		convert(t, o, &cwt)
		ts.cluster[cwt.Name] = &cwt
	}
	return ts
}

// TestWorkflowTemplateIsValid runs the checks the Argo server and controller
// run when the (Cluster)WorkflowTemplate is created.
func TestWorkflowTemplateIsValid(t *testing.T) {
	for _, v := range []variant{namespacedVariant, clusterWideVariant} {
		t.Run(v.name, func(t *testing.T) {
			ts := installTemplates(t, v)
			wt, err := ts.Get(templateName)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.ValidateWorkflowTemplate(ts, clusterGetter(ts), wt, nil, validate.ValidateOpts{}); err != nil {
				t.Errorf("WorkflowTemplate %s: %v", templateName, err)
			}
			if !v.clusterWide {
				if len(ts.cluster) != 0 {
					t.Errorf("the namespaced overlay installs ClusterWorkflowTemplates: %v", ts.cluster)
				}
				return
			}
			cwt, err := clusterGetter(ts).Get(templateName)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.ValidateClusterWorkflowTemplate(ts, clusterGetter(ts), cwt, nil, validate.ValidateOpts{}); err != nil {
				t.Errorf("ClusterWorkflowTemplate %s: %v", templateName, err)
			}
			if !reflect.DeepEqual(wt.Spec, cwt.Spec) {
				t.Errorf("ClusterWorkflowTemplate spec differs from the WorkflowTemplate's:\n%+v\n%+v", cwt.Spec, wt.Spec)
			}
		})
	}
}

// TestSubmitFromTemplate validates what `argo submit --from
// (cluster)workflowtemplate/oom-remediator -p ...` sends, with the function
// and options the Argo server uses (validate.ValidateWorkflow with Submit, as
// in workflow/util.SubmitWorkflow).
func TestSubmitFromTemplate(t *testing.T) {
	cases := []struct {
		name       string
		params     []string
		wantErr    string // empty: Argo must accept it
		wantParams map[string]string
		// Argo v3.6 does not enforce `enum` on submit (only the UI offers
		// the choices): the remediator's own validation must then reject the
		// value, naming this variable. Empty: it must accept it.
		wantConfigErr string
	}{
		{name: "workflow only", params: []string{"workflow=x"},
			wantParams: map[string]string{"workflow": "x", "node-id": "", "namespace": "{{workflow.namespace}}", "dry-run": "false", "reason": "manual"}},
		{name: "one node, dry run", params: []string{"workflow=x", "node-id=x-1234567890", "dry-run=true"},
			wantParams: map[string]string{"workflow": "x", "node-id": "x-1234567890", "dry-run": "true"}},
		{name: "other namespace", params: []string{"workflow=x", "namespace=team-a"},
			wantParams: map[string]string{"namespace": "team-a"}},
		{name: "workflow missing", params: []string{"node-id=x-1"}, wantErr: "workflow"},
		{name: "dry-run not a boolean", params: []string{"workflow=x", "dry-run=yes"}, wantConfigErr: "REMEDIATOR_DRY_RUN"},
		{name: "unknown reason", params: []string{"workflow=x", "reason=because"}, wantConfigErr: "REMEDIATOR_REASON"},
	}
	known := knownVariables(t)
	for _, v := range []variant{namespacedVariant, clusterWideVariant} {
		ts := installTemplates(t, v)
		var cm corev1.ConfigMap
		convert(t, find(t, build(t, v), "ConfigMap", configMapName), &cm)
		for _, clusterScope := range []bool{false, true} {
			if clusterScope && !v.clusterWide {
				continue
			}
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/cluster=%v/%s", v.name, clusterScope, tc.name), func(t *testing.T) {
					wf := common.NewWorkflowFromWorkflowTemplate(templateName, clusterScope)
					wf.Namespace = v.namespace
					if err := setParameters(wf, tc.params); err != nil {
						t.Fatal(err)
					}
					err := validate.ValidateWorkflow(ts, clusterGetter(ts), wf, nil, validate.ValidateOpts{Submit: true})
					switch {
					case tc.wantErr == "" && err != nil:
						t.Fatalf("submit -p %s: %v", strings.Join(tc.params, " -p "), err)
					case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
						t.Fatalf("submit -p %s: err = %v, want an error about %q", strings.Join(tc.params, " -p "), err, tc.wantErr)
					}
					if tc.wantErr != "" {
						return
					}
					params := checkArguments(t, ts, wf, clusterScope, tc.wantParams)
					params["namespace"] = strings.ReplaceAll(params["namespace"], "{{workflow.namespace}}", v.namespace)
					env, problems := podEnv(cm, *spec(ts, clusterScope).Templates[0].Container, params, v.namespace)
					if len(problems) > 0 {
						t.Fatal(problems)
					}
					err = loadConfig(t, known, env, "")
					switch {
					case tc.wantConfigErr == "" && err != nil:
						t.Errorf("the remediator rejects the environment the pod gets: %v", err)
					case tc.wantConfigErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantConfigErr)):
						t.Errorf("the remediator accepts the environment the pod gets (err %v); want an error about %s", err, tc.wantConfigErr)
					}
				})
			}
		}
	}
}

// setParameters does what `argo submit -p name=value` does to the Workflow
// (overrideParameters in Argo's workflow/util, which this module cannot
// import: it pulls in cobra, which go.mod does not carry).
func setParameters(wf *wfv1.Workflow, params []string) error {
	for _, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("expected parameter of the form NAME=VALUE, got %q", p)
		}
		wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(value)})
	}
	return nil
}

// spec is the spec of the submitted template.
func spec(ts templates, clusterScope bool) wfv1.WorkflowSpec {
	if clusterScope {
		return ts.cluster[templateName].Spec
	}
	return ts.namespaced[templateName].Spec
}

// checkArguments merges the submitted arguments with the template's, as the
// controller does, compares the values with want and returns them all.
func checkArguments(t *testing.T, ts templates, wf *wfv1.Workflow, clusterScope bool, want map[string]string) map[string]string {
	t.Helper()
	merged := util.MergeParameters(wf.Spec.Arguments.Parameters, spec(ts, clusterScope).Arguments.Parameters)
	got := map[string]string{}
	for _, p := range merged {
		got[p.Name] = p.Value.String()
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("parameter %s = %q, want %q", name, got[name], w)
		}
	}
	return got
}

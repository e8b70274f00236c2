package manifests

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// webhookAuth is how a user turns on the bearer token of the notifications
// webhook: their kustomization with an overlay and the webhook-auth component.
func webhookAuth(overlay string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"resources:\n  - ../../" + overlay + "\n" +
		"components:\n  - ../../eventsources/webhook-auth\n"
}

var webhookAuthVariants = []variant{
	{name: "namespaced+webhook-auth", dir: "variants/namespaced-webhook-auth", namespace: "argo", installs: true,
		kustomization: webhookAuth("manifests/overlays/namespaced")},
	{name: "cluster-wide+webhook-auth", dir: "variants/cluster-wide-webhook-auth", namespace: "argo-oom-remediator", clusterWide: true, installs: true,
		kustomization: webhookAuth("manifests/overlays/cluster-wide")},
}

const (
	tokenFile  = "/var/run/secrets/argo-oom-remediator/webhook/token"
	tokenMount = "/var/run/secrets/argo-oom-remediator/webhook"
)

// TestWebhookAuthReachesEveryRemediator: with the component, every
// remediator that reports to the webhook carries the token (else the sink
// answers 401 and the run exits 3): the Sensor's Jobs, the sweep CronJob and
// the (Cluster)WorkflowTemplate; the webhook itself requires it.
func TestWebhookAuthReachesEveryRemediator(t *testing.T) {
	for _, v := range webhookAuthVariants {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			es := find(t, objs, "EventSource", "remediator-notifications")
			if name, _, _ := unstructured.NestedString(es.Object, "spec", "webhook", "remediations", "authSecret", "name"); name != "oom-remediator-webhook" {
				t.Errorf("the webhook's authSecret is %q", name)
			}
			sensor := find(t, objs, "Sensor", "oom-remediation")
			triggers, _, _ := unstructured.NestedSlice(sensor.Object, "spec", "triggers")
			if len(triggers) == 0 {
				t.Fatal("the Sensor has no trigger")
			}
			job, _, _ := unstructured.NestedMap(triggers[0].(map[string]any), "template", "k8s", "source", "resource", "spec", "template", "spec")
			checkToken(t, "the Sensor's Job", job, "containers")

			cron := find(t, objs, "CronJob", sweepName)
			pod, _, _ := unstructured.NestedMap(cron.Object, "spec", "jobTemplate", "spec", "template", "spec")
			checkToken(t, "the sweep CronJob", pod, "containers")

			kind := "WorkflowTemplate"
			if v.clusterWide {
				kind = "ClusterWorkflowTemplate"
			}
			wft := find(t, objs, kind, templateName)
			spec, _, _ := unstructured.NestedMap(wft.Object, "spec")
			checkToken(t, "the "+kind, spec, "templates")
		})
	}
}

// checkToken checks that the first container (or template's container)
// under list mounts the Secret and points REMEDIATOR_SINK_TOKEN_FILE at it.
func checkToken(t *testing.T, what string, spec map[string]any, list string) {
	t.Helper()
	items, _, _ := unstructured.NestedSlice(spec, list)
	if len(items) == 0 {
		t.Errorf("%s: no %s", what, list)
		return
	}
	c := items[0].(map[string]any)
	if list == "templates" {
		c, _, _ = unstructured.NestedMap(c, "container")
	}
	env, _, _ := unstructured.NestedSlice(c, "env")
	found := false
	for _, e := range env {
		m := e.(map[string]any)
		found = found || (m["name"] == "REMEDIATOR_SINK_TOKEN_FILE" && m["value"] == tokenFile)
	}
	if !found {
		t.Errorf("%s: REMEDIATOR_SINK_TOKEN_FILE is not %s (env %v)", what, tokenFile, env)
	}
	mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
	if len(mounts) != 1 || mounts[0].(map[string]any)["mountPath"] != tokenMount || mounts[0].(map[string]any)["readOnly"] != true {
		t.Errorf("%s: volumeMounts %v", what, mounts)
	}
	vols, _, _ := unstructured.NestedSlice(spec, "volumes")
	if len(vols) != 1 {
		t.Errorf("%s: volumes %v", what, vols)
		return
	}
	if name, _, _ := unstructured.NestedString(vols[0].(map[string]any), "secret", "secretName"); name != "oom-remediator-webhook" {
		t.Errorf("%s: the volume's Secret is %q", what, name)
	}
}

package chart

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	repository = "ghcr.io/argo-oom-remediator/remediator"
	sensorJob  = "spec.triggers.0.template.k8s.source.resource.spec.template.spec"
	sweepPod   = "spec.jobTemplate.spec.template.spec"
	podsPod    = "spec.template.spec"
	// watchedNamespaceLabel tells the pod watchers of mode namespaces apart.
	watchedNamespaceLabel = "argo-oom-remediator.io/watched-namespace"
)

// renderChecks holds, per values file of testdata/values, what its render
// must show. Every values file needs an entry (TestRender fails otherwise).
var renderChecks = map[string]func(*testing.T, objects){
	"default": func(t *testing.T, objs objects) {
		for _, o := range objs {
			if o.GetNamespace() != "argo" {
				t.Errorf("%s %s: namespace %q, want the release namespace argo", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		}
		cm := objs.get(t, "ConfigMap", "argo", "oom-remediator-config")
		want(t, cm, "data.REMEDIATOR_SINK_URL", "http://remediator-notifications-eventsource-svc:12000/remediations")
		if _, ok := field(cm, "data").(map[string]any)["REMEDIATOR_ARGO_UI_URL"]; !ok {
			t.Error("the ConfigMap has no REMEDIATOR_ARGO_UI_URL")
		}
		objs.get(t, "Role", "argo", "oom-remediator")
		objs.get(t, "Role", "argo", "oom-remediator-eventsource")
		if n := len(objs.all("ClusterRole")) + len(objs.all("ClusterRoleBinding")) + len(objs.all("EventBus")); n != 0 {
			t.Errorf("%d ClusterRoles, ClusterRoleBindings or EventBuses; the namespace scope has none", n)
		}
		// One watcher, of its own namespace; the EventSource dials it.
		es := objs.get(t, "EventSource", "argo", "workflow-pods")
		want(t, es, "spec.generic.workflow-pods.url", "oom-remediator-pods:9000")
		want(t, objs.get(t, "Deployment", "argo", "oom-remediator-pods"), podsPod+".containers.0.env.0.valueFrom.fieldRef.fieldPath", "metadata.namespace")
		objs.get(t, "Service", "argo", "oom-remediator-pods")
		checkImages(t, objs, repository+":v0.1.0")
		slack := objs.get(t, "Sensor", "argo", "oom-notification")
		want(t, slack, "spec.triggers.0.template.slack.channel", "#argo-alerts")
		want(t, slack, "spec.triggers.0.template.slack.slackToken.name", "oom-remediator-slack")
		want(t, slack, "spec.triggers.0.template.slack.slackToken.key", "token")
	},
	"namespaces": func(t *testing.T, objs objects) {
		covered := []string{"argo", "team-a", "team-b"}
		es := objs.get(t, "EventSource", "argo", "workflow-pods")
		sensor := objs.get(t, "Sensor", "argo", "oom-remediation")
		var deps []string
		for _, ns := range covered {
			role := objs.get(t, "Role", ns, "oom-remediator")
			if !strings.Contains(fmt.Sprint(role.Object["rules"]), "patch") {
				t.Errorf("Role %s/oom-remediator lacks the nudge's patch on workflows: %v", ns, role.Object["rules"])
			}
			objs.get(t, "Role", ns, "oom-remediator-eventsource")
			for _, b := range []string{"oom-remediator", "oom-remediator-eventsource"} {
				rb := objs.get(t, "RoleBinding", ns, b)
				if ns != "argo" {
					want(t, rb, "subjects.0.namespace", "argo")
				}
			}
			// One watcher per covered namespace, in the release namespace,
			// each Service selecting only its own watcher's pods.
			name := "oom-remediator-pods"
			if ns != "argo" {
				name += "-" + ns
			}
			d := objs.get(t, "Deployment", "argo", name)
			if ns == "argo" {
				want(t, d, podsPod+".containers.0.env.0.valueFrom.fieldRef.fieldPath", "metadata.namespace")
			} else {
				want(t, d, podsPod+".containers.0.env.0.value", ns)
			}
			want(t, d, podsPod+".containers.0.env.0.name", "REMEDIATOR_NAMESPACE")
			for _, sel := range []any{field(d, "spec.selector.matchLabels"), field(d, "spec.template.metadata.labels"), field(objs.get(t, "Service", "argo", name), "spec.selector")} {
				if got := sel.(map[string]any)[watchedNamespaceLabel]; got != ns {
					t.Errorf("%s: %s = %v in %v, want %s", name, watchedNamespaceLabel, got, sel, ns)
				}
			}
			want(t, es, "spec.generic.workflow-pods-"+ns+".url", name+":9000")
			deps = append(deps, "pod-change-"+ns)
		}
		if n := len(field(es, "spec.generic").(map[string]any)); n != len(covered) {
			t.Errorf("EventSource workflow-pods has %d generic entries, want %d", n, len(covered))
		}
		if n := len(objs.all("Deployment")); n != len(covered) {
			t.Errorf("%d Deployments, want one pod watcher per covered namespace (%d)", n, len(covered))
		}
		want(t, sensor, "spec.triggers.0.template.conditions", strings.Join(deps, " || "))
		for i, ns := range covered {
			want(t, sensor, fmt.Sprintf("spec.dependencies.%d.eventName", i), "workflow-pods-"+ns)
			want(t, sensor, fmt.Sprintf("spec.dependencies.%d.name", i), deps[i])
		}
		params, _ := field(sensor, "spec.triggers.0.template.k8s.parameters").([]any)
		perDep := map[string]int{}
		for _, p := range params {
			perDep[fmt.Sprint(p.(map[string]any)["src"].(map[string]any)["dependencyName"])]++
		}
		for _, d := range deps {
			if perDep[d] == 0 || perDep[d]*len(deps) != len(params) {
				t.Errorf("dependency %s has %d of the %d trigger parameters, want an equal share", d, perDep[d], len(params))
			}
		}
		objs.get(t, "Role", "argo", "oom-remediator-sensor")
		for _, c := range objs.all("CronJob") {
			if c.GetNamespace() != "argo" {
				t.Errorf("CronJob %s in %s, want every sweep in the release namespace", c.GetName(), c.GetNamespace())
			}
		}
		want(t, objs.get(t, "CronJob", "argo", "oom-remediator-sweep-team-a"), sweepPod+".containers.0.env.0.value", "team-a")
		want(t, objs.get(t, "CronJob", "argo", "oom-remediator-sweep"), sweepPod+".containers.0.env.0.valueFrom.fieldRef.fieldPath", "metadata.namespace")
		cm := objs.get(t, "ConfigMap", "argo", "oom-remediator-config")
		want(t, cm, "data.REMEDIATOR_NUDGE", "true")
		want(t, cm, "data.REMEDIATOR_CLUSTER_NAME", "prod-eu-1")
		want(t, cm, "data.REMEDIATOR_ARGO_UI_URL", "https://argo.example.com")
		checkImages(t, objs, repository+"@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	},
	"cluster": func(t *testing.T, objs objects) {
		for _, name := range []string{"oom-remediator", "oom-remediator-eventsource"} {
			objs.get(t, "ClusterRole", "", name)
			crb := objs.get(t, "ClusterRoleBinding", "", name)
			want(t, crb, "subjects.0.namespace", "argo")
			want(t, crb, "roleRef.kind", "ClusterRole")
		}
		objs.get(t, "Role", "argo", "oom-remediator-sensor")
		if objs.has("Role", "oom-remediator") {
			t.Error("a Role oom-remediator besides the ClusterRole")
		}
		objs.get(t, "ClusterWorkflowTemplate", "", "oom-remediator")
		objs.get(t, "WorkflowTemplate", "argo", "oom-remediator")
		objs.get(t, "EventBus", "argo", "remediator")
		for _, kind := range []string{"EventSource", "Sensor"} {
			for _, o := range objs.all(kind) {
				want(t, o, "spec.eventBusName", "remediator")
			}
		}
		want(t, objs.get(t, "EventSource", "argo", "workflow-pods"), "spec.generic.workflow-pods.url", "oom-remediator-pods:9000")
		watcher := objs.get(t, "Deployment", "argo", "oom-remediator-pods")
		want(t, watcher, podsPod+".containers.0.resources.limits.memory", "1Gi")
		want(t, watcher, podsPod+".containers.0.resources.requests.memory", "512Mi")
		for _, e := range field(watcher, podsPod+".containers.0.env").([]any) {
			if name := e.(map[string]any)["name"]; name == "REMEDIATOR_NAMESPACE" {
				t.Errorf("the cluster-wide pod watcher sets %v; it must watch every namespace", e)
			}
		}
		want(t, objs.get(t, "Sensor", "argo", "oom-notification"), "spec.triggers.0.template.http.url", "https://hooks.slack.com/services/T000/B000/XXXX")
		cron := objs.get(t, "CronJob", "argo", "oom-remediator-sweep")
		want(t, cron, "spec.schedule", "*/10 * * * *")
		want(t, cron, sweepPod+".containers.0.resources.requests.memory", "96Mi")
		if env := field(cron, sweepPod+".containers.0.env"); env != nil {
			t.Errorf("the cluster-wide sweep sets env %v; it must scan every namespace", env)
		}
		if n := len(objs.all("CronJob")); n != 1 {
			t.Errorf("%d CronJobs, want one sweep", n)
		}
		checkImages(t, objs, repository+":v0.2.0")
	},
	// Compared with manifests/overlays/cluster-wide by test/manifests.
	"overlay-cluster-wide": func(t *testing.T, objs objects) {
		objs.get(t, "EventBus", "argo", "default")
		objs.get(t, "ClusterRole", "", "oom-remediator")
	},
	// Compared with manifests/overlays/cluster-wide plus components/watch
	// and components/resubmit by test/manifests.
	"overlay-cluster-wide-resubmit": func(t *testing.T, objs objects) {
		if n := len(objs.all("CronJob")); n != 0 {
			t.Errorf("%d CronJobs: the watch replaces the sweep", n)
		}
		d := objs.get(t, "Deployment", "argo", "oom-remediator-watch")
		want(t, d, "spec.template.spec.containers.0.env.0.name", "REMEDIATOR_RESUBMIT")
		want(t, d, "spec.template.spec.containers.0.env.0.value", "true")
		objs.get(t, "Service", "argo", "oom-remediator-watch")
	},
	"quiet": func(t *testing.T, objs objects) {
		if objs.has("Sensor", "oom-notification") {
			t.Error("slack.mode none renders the Sensor oom-notification")
		}
		objs.get(t, "EventSource", "argo", "remediator-notifications")
		cm := objs.get(t, "ConfigMap", "argo", "oom-remediator-config")
		for k, v := range map[string]string{
			"REMEDIATOR_GRACE_PERIOD": "45s", "REMEDIATOR_DEADLINE": "15m", "REMEDIATOR_VERIFY_TIMEOUT": "3m",
			"REMEDIATOR_LOG_FORMAT": "text", "REMEDIATOR_LOG_LEVEL": "debug",
			"REMEDIATOR_SINK_URL": "https://events.example.com/remediations", "REMEDIATOR_SINK_RETRIES": "2",
			"REMEDIATOR_DRY_RUN": "true",
		} {
			want(t, cm, "data."+k, v)
		}
		job := objs.get(t, "Sensor", "argo", "oom-remediation")
		want(t, job, sensorJob+".containers.0.resources.limits.memory", "128Mi")
		if req := field(job, sensorJob+".containers.0.resources.requests"); req != nil {
			t.Errorf("remediation.resources replaces the resources; requests %v kept", req)
		}
	},
}

// checkImages: every remediator container (sweep, WorkflowTemplates, the
// Sensor's Job, the Deployments: pod watchers, watch) runs image, and there
// is at least one of each.
func checkImages(t *testing.T, objs objects, image string) {
	t.Helper()
	paths := map[string]string{
		"CronJob":                 sweepPod + ".containers.0.image",
		"Deployment":              podsPod + ".containers.0.image",
		"WorkflowTemplate":        "spec.templates.0.container.image",
		"ClusterWorkflowTemplate": "spec.templates.0.container.image",
	}
	seen := map[string]bool{}
	check := func(o *unstructured.Unstructured, path string) {
		seen[o.GetKind()] = true
		want(t, o, path, image)
	}
	for kind, path := range paths {
		for _, o := range objs.all(kind) {
			check(o, path)
		}
	}
	check(objs.get(t, "Sensor", objs.all("Sensor")[0].GetNamespace(), "oom-remediation"), sensorJob+".containers.0.image")
	for _, kind := range []string{"CronJob", "WorkflowTemplate", "Sensor", "Deployment"} {
		if !seen[kind] {
			t.Errorf("no %s runs the remediator image", kind)
		}
	}
}

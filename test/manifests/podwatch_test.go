package manifests

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestPodWatcher: every overlay runs the workflow pod watcher (`remediator
// pods`) behind the EventSource workflow-pods as ServiceAccount
// oom-remediator-eventsource, whose rules are the pod rules
// (TestLeastPrivilege). The namespaced overlays watch the pod's own namespace
// (a fieldRef, so a user's `namespace:` over them needs nothing else); the
// cluster-wide ones leave REMEDIATOR_NAMESPACE unset: every namespace. Its
// Service reaches the container's gRPC and metrics ports; it is ready only
// once its cache is full (/healthz).
func TestPodWatcher(t *testing.T) {
	for _, v := range overlays {
		t.Run(v.name, func(t *testing.T) {
			objs := build(t, v)
			var d appsv1.Deployment
			convert(t, find(t, objs, "Deployment", podsName), &d)
			spec := d.Spec.Template.Spec
			if spec.ServiceAccountName != eventSourceName {
				t.Errorf("serviceAccountName %q, want %q (the pod rules)", spec.ServiceAccountName, eventSourceName)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
				t.Errorf("replicas %v, want 1: the EventSource holds one stream", d.Spec.Replicas)
			}
			if len(spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(spec.Containers))
			}
			c := spec.Containers[0]
			if !slices.Equal(c.Args, []string{"pods"}) {
				t.Errorf("args %q, want [pods]", c.Args)
			}
			if len(c.EnvFrom) != 0 {
				t.Errorf("envFrom %+v: the watcher reads none of the remediator's settings", c.EnvFrom)
			}
			checkWatchedNamespace(t, c, v.clusterWide)
			checkWatcherProbes(t, c)

			var svc corev1.Service
			convert(t, find(t, objs, "Service", podsName), &svc)
			if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
				t.Errorf("Service selector %v does not select the watcher's pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
			}
			for name, port := range map[string]int32{"grpc": 9000, "metrics": 9090} {
				i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == name })
				if i < 0 {
					t.Errorf("Service has no port %s", name)
					continue
				}
				p := svc.Spec.Ports[i]
				if p.Port != port || !servesPort(c, p.TargetPort, port) {
					t.Errorf("Service port %s: %d -> %s, want %d to the container's %s port %d", name, p.Port, p.TargetPort.String(), port, name, port)
				}
			}
		})
	}
}

// checkWatchedNamespace: REMEDIATOR_NAMESPACE is the pod's own namespace
// (namespaced) or unset (cluster-wide: every namespace).
func checkWatchedNamespace(t *testing.T, c corev1.Container, clusterWide bool) {
	t.Helper()
	e := namespaceEnv(c)
	switch {
	case clusterWide && e != nil:
		t.Errorf("cluster-wide watcher sets REMEDIATOR_NAMESPACE (%+v); it must watch every namespace", *e)
	case !clusterWide && e == nil:
		t.Error("namespaced watcher has no REMEDIATOR_NAMESPACE: it would watch every namespace, which its Role does not allow")
	case !clusterWide && !ownNamespace(e):
		t.Errorf("namespaced watcher: REMEDIATOR_NAMESPACE = %+v, want the pod's own namespace (fieldRef metadata.namespace)", *e)
	}
}

// namespaceEnv is c's REMEDIATOR_NAMESPACE (nil if unset).
func namespaceEnv(c corev1.Container) *corev1.EnvVar {
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "REMEDIATOR_NAMESPACE" })
	if i < 0 {
		return nil
	}
	return &c.Env[i]
}

// ownNamespace tells whether e is the pod's own namespace (the downward
// API's metadata.namespace).
func ownNamespace(e *corev1.EnvVar) bool {
	return e != nil && e.Value == "" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
}

// checkWatcherProbes: ready on /healthz (200 once the cache is full) of the
// metrics port; alive while the gRPC port accepts connections (not /healthz,
// which stays 503 through a long initial list).
func checkWatcherProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	r := c.ReadinessProbe
	if r == nil || r.HTTPGet == nil || r.HTTPGet.Path != "/healthz" || !servesPort(c, r.HTTPGet.Port, 9090) {
		t.Errorf("readinessProbe %+v, want httpGet /healthz on the metrics port 9090", r)
	}
	l := c.LivenessProbe
	if l == nil || l.TCPSocket == nil || !servesPort(c, l.TCPSocket.Port, 9000) {
		t.Errorf("livenessProbe %+v, want tcpSocket on the gRPC port 9000", l)
	}
}

// servesPort tells whether port (a number or a port name of c) is c's
// container port want.
func servesPort(c corev1.Container, port intstr.IntOrString, want int32) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == want && (port.IntValue() == int(want) || (port.Type == intstr.String && port.StrVal == p.Name)) {
			return true
		}
	}
	return false
}

// watcherNamespaceEnv returns REMEDIATOR_NAMESPACE of the watcher Deployment
// o (nil if unset).
func watcherNamespaceEnv(t *testing.T, o *unstructured.Unstructured) *corev1.EnvVar {
	t.Helper()
	var d appsv1.Deployment
	convert(t, o, &d)
	for _, c := range d.Spec.Template.Spec.Containers {
		if e := namespaceEnv(c); e != nil {
			return e
		}
	}
	return nil
}

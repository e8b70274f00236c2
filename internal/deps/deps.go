//go:build tools

// Package deps pins modules that only tests and tools import, so go mod tidy keeps them.
package deps

import (
	_ "github.com/argoproj/argo-events/pkg/reconciler/eventsource"
	_ "github.com/argoproj/argo-events/pkg/reconciler/sensor"
	_ "github.com/argoproj/argo-events/pkg/sensors/dependencies"
	_ "github.com/argoproj/argo-events/pkg/sensors/triggers"
	_ "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	_ "github.com/argoproj/argo-workflows/v3/workflow/validate"
	_ "github.com/cloudevents/sdk-go/v2"
	_ "github.com/kelseyhightower/envconfig"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest"
	_ "sigs.k8s.io/kustomize/api/krusty"
)

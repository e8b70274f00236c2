// Package kube builds the API clients: from a kubeconfig file when one is
// given, else from the in-cluster service account.
package kube

import (
	"fmt"

	"github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config returns the REST config: kubeconfig when set, else in-cluster.
func Config(kubeconfig, userAgent string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	cfg.UserAgent = userAgent
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// Clients returns the Kubernetes and Argo Workflows clientsets for cfg.
func Clients(cfg *rest.Config) (kubernetes.Interface, versioned.Interface, error) {
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	a, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("building the Argo Workflows client: %w", err)
	}
	return k, a, nil
}

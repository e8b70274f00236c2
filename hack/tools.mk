# Pinned tool binaries and the local cluster. Included by the root Makefile
# (`include hack/tools.mk`); usable from any directory since paths are absolute.
# Versions come from hack/versions.env; binaries go to the git-ignored bin/.

TOOLS_MK_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
REPO_ROOT := $(abspath $(TOOLS_MK_DIR)/..)
include $(TOOLS_MK_DIR)/versions.env

# LOCALBIN holds every built tool; KUBEBUILDER_ASSETS is the envtest binary
# directory (kube-apiserver, etcd, kubectl) that test/support/cluster uses. Both are
# exported so `go test` run from make finds them.
LOCALBIN ?= $(REPO_ROOT)/bin
KUBEBUILDER_ASSETS ?= $(LOCALBIN)/k8s/$(KUBERNETES_VERSION)
export LOCALBIN KUBEBUILDER_ASSETS

KUBECTL := $(KUBEBUILDER_ASSETS)/kubectl
GOLANGCI_LINT := $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
GOVULNCHECK := $(LOCALBIN)/govulncheck-$(GOVULNCHECK_VERSION)
ACTIONLINT := $(LOCALBIN)/actionlint-$(ACTIONLINT_VERSION)
# The offline Go vulnerability database (govulncheck -db file://$(VULNDB)).
VULNDB := $(LOCALBIN)/vulndb/$(VULNDB_VERSION)
# $(call workflow-controller,v3.5.8) is the path of that controller binary.
workflow-controller = $(LOCALBIN)/workflow-controller/$(1)/workflow-controller
LOCALCLUSTER_KUBECONFIG := $(REPO_ROOT)/.cluster/kubeconfig

.PHONY: tools tools-cluster tools-controllers tools-lint tools-vulndb cluster-up cluster-down cluster-status

tools: ## Build kube-apiserver, kubectl, etcd, the workflow-controllers, lint tools and vulnerability database into bin/ (only what changed)
	$(TOOLS_MK_DIR)/build-tools.sh all

tools-cluster: ## Build kube-apiserver, kubectl and etcd into bin/k8s/<version>/ (KUBEBUILDER_ASSETS)
	$(TOOLS_MK_DIR)/build-tools.sh cluster

tools-controllers: ## Build the pinned Argo workflow-controllers into bin/workflow-controller/<version>/
	$(TOOLS_MK_DIR)/build-tools.sh controllers

tools-lint: ## Build the pinned golangci-lint, govulncheck, actionlint and the vulnerability database into bin/
	$(TOOLS_MK_DIR)/build-tools.sh lint

tools-vulndb: ## Build the Go vulnerability database (golang.org/x/vulndb, VULNDB_VERSION in hack/versions.env) into bin/vulndb/<version>/
	$(TOOLS_MK_DIR)/build-tools.sh vulndb

cluster-up: tools-cluster ## Start the local cluster in the background; KUBECONFIG=.cluster/kubeconfig
	go -C $(REPO_ROOT)/test run ./cmd/localcluster up

cluster-down: ## Stop the local cluster and remove .cluster/
	go -C $(REPO_ROOT)/test run ./cmd/localcluster down

cluster-status: ## Show whether the local cluster runs and is ready
	go -C $(REPO_ROOT)/test run ./cmd/localcluster status

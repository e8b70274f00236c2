# argo-oom-remediator. `make help` lists the targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
include hack/tools.mk

GO ?= go
BINARY := bin/remediator
GO_TEST_FLAGS ?= -race -count=1
FUZZ_TIME ?= 30s

.PHONY: help build test test-unit lint fmt demo static-check clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the remediator binary into bin/remediator (static, trimmed)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BINARY) ./remediator

test: tools-cluster ## Run every test: unit tests and the tests against a real kube-apiserver + etcd
	$(GO) test $(GO_TEST_FLAGS) ./...

test-unit: ## Run the fast tests only (no local cluster)
	$(GO) test $(GO_TEST_FLAGS) -short ./...

lint: tools-lint ## Run golangci-lint (pinned) and govulncheck
	$(GOLANGCI_LINT) run ./...
	$(GOVULNCHECK) ./...

fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

demo: ## Run the remediator end to end on an embedded local cluster (lands with the real-controller work)
	@echo "make demo: not yet — it arrives with the real Argo controller (issue 4). Meanwhile: make cluster-up"

clean: ## Remove built binaries of the project (not the cached tools)
	rm -f $(BINARY)

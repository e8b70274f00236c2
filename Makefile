# argo-oom-remediator. `make help` lists the targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
include hack/tools.mk

GO ?= go
BINARY := bin/remediator
GO_TEST_FLAGS ?= -race -count=1
# What `make test` (and so CI) runs is fixed: an inherited GO_TEST_FLAGS
# (say -short) must not silently skip the tests against real components.
# -timeout bounds each package's test binary: the slowest (test/e2e, the
# controller matrix) takes about 6 min on the 2-core build machine.
TEST_FLAGS := -race -count=1 -timeout 30m
FUZZ_TIME ?= 30s

.PHONY: help build test test-unit bench fuzz lint vulncheck fmt demo static-check image clean

# Three Go modules: the product (go.mod: the remediator and internal/, only
# what it imports), the tests (test/go.mod: the harness, Argo Events, NATS,
# kustomize, controller-runtime) and the Helm chart's tests (test/chart/go.mod:
# Helm v4's SDK, whose k8s.io modules are newer than the test module's).
# Every Go target runs over all three.
TEST_MODULE := test
CHART_MODULE := test/chart
# The controller the demo runs (test/cmd/demo); make demo builds only it.
DEMO_CONTROLLER := v3.5.8

IMAGE ?= ghcr.io/argo-oom-remediator/remediator:dev

# Fuzz targets: package:target.
FUZZ_TARGETS := ./internal/decide:FuzzDecide ./internal/config:FuzzLoad ./internal/wfstatus:FuzzNodes

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the remediator binary into bin/remediator (static, trimmed)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BINARY) ./remediator

test: tools-cluster tools-controllers tools-lint ## Run every test (what CI runs): lint and vulncheck, unit tests, the tests against a real kube-apiserver + etcd and Argo controllers, a short fuzz
ifeq ($(origin KUBEBUILDER_ASSETS),environment)
	@echo "make test: KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS) comes from the environment, not bin/; unset it to test on the pinned binaries" >&2; exit 2
endif
	$(MAKE) --no-print-directory lint
	$(GO) test $(TEST_FLAGS) ./...
	$(GO) -C $(TEST_MODULE) test $(TEST_FLAGS) ./...
	$(GO) -C $(CHART_MODULE) test $(TEST_FLAGS) ./...
	$(MAKE) --no-print-directory fuzz FUZZ_TIME=3s

test-unit: ## Run the fast tests only (no local cluster)
	$(GO) test $(GO_TEST_FLAGS) -short ./...
	$(GO) -C $(TEST_MODULE) test $(GO_TEST_FLAGS) -short ./...
	$(GO) -C $(CHART_MODULE) test $(GO_TEST_FLAGS) -short ./...

bench: tools-cluster tools-controllers ## Run the benchmarks (not in make test; figures in docs/benchmarks.md): the remediator process and sweep on the real API server, the default-size compressed fan-out under the v3.5.8 controller (~4 min)
	$(GO) -C $(TEST_MODULE) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./rescue/ ./sweep/

fuzz: ## Fuzz each target for FUZZ_TIME (default 30s); new failures land in testdata/fuzz
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ($$pkg) for $(FUZZ_TIME)"; \
	  $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZ_TIME) $$pkg || exit 1; done

lint: tools-lint ## Run golangci-lint (pinned in hack/tools/lint/go.mod) over every package of the three modules, then vulncheck
	$(GOLANGCI_LINT) run ./...
	cd $(TEST_MODULE) && $(GOLANGCI_LINT) run ./...
	cd $(CHART_MODULE) && $(GOLANGCI_LINT) run ./...
	$(MAKE) --no-print-directory vulncheck

vulncheck: tools-lint ## Run govulncheck on the product module (what ships) with the offline database; fail on findings not in hack/vulncheck/accepted.yaml (docs/vulnerabilities.md)
	set -o pipefail; $(GOVULNCHECK) -db file://$(VULNDB) -format json ./... | $(GO) run ./hack/vulncheck -accepted hack/vulncheck/accepted.yaml

fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

demo: tools-cluster build ## Rescue a stuck workflow under a real Argo v3.5.8 controller on an embedded local cluster
	$(TOOLS_MK_DIR)/build-tools.sh controller:$(DEMO_CONTROLLER)
	$(GO) -C $(TEST_MODULE) run ./cmd/demo

static-check: ## Build bin/remediator as the image does and check it is static; print its size
	hack/check-static.sh

image: ## Build the container image (needs a Docker engine)
	docker build -t $(IMAGE) .

clean: ## Remove built binaries of the project (not the cached tools)
	rm -f $(BINARY)

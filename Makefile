# argo-oom-remediator. `make help` lists the targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
include hack/tools.mk

GO ?= go
BINARY := bin/remediator
GO_TEST_FLAGS ?= -race -count=1
# What `make test` (and so CI) runs is fixed: an inherited GO_TEST_FLAGS
# (say -short) must not silently skip the tests against real components.
# -timeout bounds each package's test binary, per module: the product's unit
# tests take seconds (5 min is a hang); the slowest package of the test module
# (test/e2e, the controller matrix) takes about 6 min on the 2-core build
# machine, 30 min leaves room for a loaded one.
TEST_FLAGS := -race -count=1
UNIT_TIMEOUT := 5m
TEST_TIMEOUT := 30m
FUZZ_TIME ?= 30s

.PHONY: help build test test-unit bench fuzz lint vulncheck fmt demo static-check image image-push clean

# Three Go modules: the product (go.mod: the remediator and internal/, only
# what it imports), the tests (test/go.mod: the harness, Argo Events, NATS,
# kustomize, controller-runtime) and the Helm chart's tests (test/chart/go.mod:
# Helm v4's SDK, whose k8s.io modules are newer than the test module's).
# Every Go target runs over all three.
TEST_MODULE := test
# The alert and dashboard checks (test/monitoring/go.mod): Prometheus's rule
# and PromQL parsers bring k8s/otel versions the test module cannot take.
MONITORING_MODULE := test/monitoring
# The Helm chart's tests (test/chart/go.mod): Helm v4 brings k8s.io v0.37.
CHART_MODULE := test/chart
# The controller the demo runs (test/cmd/demo); make demo builds only it.
DEMO_CONTROLLER := v3.5.8

# What ships (bin/remediator, the image, the binary the tests run as
# shipped) is built with GO_TOOLCHAIN (hack/versions.env), which the go
# command downloads from the module proxy; the tests and the pinned tools run
# on the machine's Go (docs/image.md: why, and what it costs).
SHIP_GO := GOTOOLCHAIN=$(GO_TOOLCHAIN) $(GO)
SHIP_FLAGS := -trimpath -buildvcs=false -ldflags "-s -w"

# make image / image-push: the OCI layout, its version and timestamps.
IMAGE ?= ghcr.io/argo-oom-remediator/remediator:dev
IMAGE_LAYOUT := bin/image
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
# The image tool (hack/image, its own module), run with the same toolchain.
IMAGE_TOOL := $(SHIP_GO) -C hack/image run .

# Fuzz targets: package:target.
FUZZ_TARGETS := ./internal/decide:FuzzDecide ./internal/config:FuzzLoad ./internal/wfstatus:FuzzNodes

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the remediator binary into bin/remediator (static, trimmed, with GO_TOOLCHAIN)
	CGO_ENABLED=0 $(SHIP_GO) build $(SHIP_FLAGS) -o $(BINARY) ./remediator

test: tools-cluster tools-controllers tools-lint ## Run every test (what CI runs): lint and vulncheck, unit tests, the tests against a real kube-apiserver + etcd and Argo controllers, a short fuzz
ifeq ($(origin KUBEBUILDER_ASSETS),environment)
	@echo "make test: KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS) comes from the environment, not bin/; unset it to test on the pinned binaries" >&2; exit 2
endif
	$(MAKE) --no-print-directory lint
	$(GO) test $(TEST_FLAGS) -timeout $(UNIT_TIMEOUT) ./...
	$(GO) -C $(TEST_MODULE) test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) ./...
	$(GO) -C $(MONITORING_MODULE) test $(TEST_FLAGS) -timeout $(UNIT_TIMEOUT) ./...
	$(GO) -C $(CHART_MODULE) test $(TEST_FLAGS) -timeout $(UNIT_TIMEOUT) ./...
	$(SHIP_GO) -C hack/image test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory fuzz FUZZ_TIME=3s

test-unit: ## Run the fast tests only (no local cluster)
	$(GO) test $(GO_TEST_FLAGS) -short ./...
	$(GO) -C $(TEST_MODULE) test $(GO_TEST_FLAGS) -short ./...
	$(GO) -C $(MONITORING_MODULE) test $(GO_TEST_FLAGS) -short ./...
	$(GO) -C $(CHART_MODULE) test $(GO_TEST_FLAGS) -short ./...
	$(SHIP_GO) -C hack/image test $(GO_TEST_FLAGS) -short ./...

bench: tools-cluster tools-controllers ## Run the benchmarks (not in make test), then print their figures against the targets (docs/benchmarks.md, docs/benchmarks-scale.md): the remediator process and sweep on the real API server, the default-size compressed fan-out under the v3.5.8 controller, the cluster-scale sweep (50,000 workflows), 200 remediator Jobs at once against one sweep (about 7 GiB of memory for a minute), the EventSource's memory at 1,000-10,000 workflow pods (tens of minutes) and a burst of 5,000 workflow pods (20,000 UPDATEs, 200 OOMs) through the whole event path
	set -o pipefail; $(GO) -C $(TEST_MODULE) test -run '^$$' -bench . -benchtime 1x -timeout 90m ./rescue/ ./sweep/ ./eventsource/ ./pipeline/ \
	  | $(GO) -C $(TEST_MODULE) run ./cmd/benchtable

fuzz: ## Fuzz each target for FUZZ_TIME (default 30s); a failing input lands in testdata/fuzz: fix it, keep it there named after what it covers (the generated corpus stays in the Go cache)
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ($$pkg) for $(FUZZ_TIME)"; \
	  $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZ_TIME) $$pkg || exit 1; done

lint: tools-lint ## Run golangci-lint (pinned in hack/tools/lint/go.mod) over every package of the five modules, actionlint over .github/workflows, then vulncheck
	$(GOLANGCI_LINT) run ./...
	cd $(TEST_MODULE) && $(GOLANGCI_LINT) run ./...
	cd $(MONITORING_MODULE) && $(GOLANGCI_LINT) run ./...
	cd $(CHART_MODULE) && $(GOLANGCI_LINT) run ./...
	cd hack/image && $(GOLANGCI_LINT) run ./...
	$(ACTIONLINT) -no-color
	$(MAKE) --no-print-directory vulncheck

vulncheck: tools-lint build ## Run govulncheck on the shipped binary (bin/remediator, GO_TOOLCHAIN; -mode binary) with the offline database; fail on findings not in hack/vulncheck/accepted.yaml (docs/vulnerabilities.md)
	set -o pipefail; $(GOVULNCHECK) -db file://$(VULNDB) -mode binary -format json $(BINARY) | $(GO) run ./hack/vulncheck -accepted hack/vulncheck/accepted.yaml

fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

demo: tools-cluster build ## Rescue a stuck workflow under a real Argo v3.5.8 controller on an embedded local cluster
	$(TOOLS_MK_DIR)/build-tools.sh controller:$(DEMO_CONTROLLER)
	$(GO) -C $(TEST_MODULE) run ./cmd/demo

static-check: ## Build bin/remediator as the image does and check it is static; print its size
	hack/check-static.sh

image: ## Build the multi-arch OCI image (linux/amd64, linux/arm64) from Go alone into bin/image (OCI layout, SBOMs attached; docs/image.md)
	@test -n "$(SOURCE_DATE_EPOCH)" || { echo "make image: no SOURCE_DATE_EPOCH (not a git checkout): set it to the commit time" >&2; exit 2; }
	$(IMAGE_TOOL) build -root $(CURDIR) -out $(CURDIR)/$(IMAGE_LAYOUT) -sbom-dir $(CURDIR)/$(IMAGE_LAYOUT).sbom -platforms $(IMAGE_PLATFORMS) \
	  -epoch $(SOURCE_DATE_EPOCH) -version $(VERSION) -revision "$$(git rev-parse HEAD 2>/dev/null)"

image-push: ## Push bin/image (make image first) to IMAGE=registry/name:tag with the Docker config's credentials; prints name@digest
	$(IMAGE_TOOL) push -layout $(CURDIR)/$(IMAGE_LAYOUT) -image $(IMAGE)

clean: ## Remove built binaries of the project (not the cached tools)
	rm -f $(BINARY)

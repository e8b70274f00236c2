#!/usr/bin/env bash
# Builds the pinned Kubernetes, etcd, Argo Workflows controller and lint
# binaries from Go modules into the git-ignored bin/ folder.
#
# Usage: hack/build-tools.sh [-f] [all|cluster|controllers|controller:<v>|lint|vulndb]...
#   all          everything below (the default)
#   cluster      bin/k8s/$KUBERNETES_VERSION/{kube-apiserver,kubectl,etcd}
#                (the directory envtest's KUBEBUILDER_ASSETS points at)
#   controllers  bin/workflow-controller/<version>/workflow-controller, every
#                version of WORKFLOW_CONTROLLER_VERSIONS
#   controller:<v>  that one of them only (make demo: controller:v3.5.8)
#   lint         bin/golangci-lint-<version>, bin/govulncheck-<version>,
#                bin/actionlint-<version> (plus unversioned symlinks)
#                and the vulndb target below
#   vulndb       bin/vulndb/$VULNDB_VERSION/: the Go vulnerability database
#                (v1 layout, for govulncheck -db file://...) built offline by
#                golang.org/x/vulndb's cmd/indexdb from the data/osv folder of
#                the same golang.org/x/vulndb module version
#   -f           rebuild even when the stamp says the binary is up to date
#
# Versions come from hack/versions.env; each tool is built from its wrapper
# module under hack/tools/. Next to every binary a stamp file
# (.<name>.stamp) records what it was built from: tool version, Go version,
# ldflags and a hash of the wrapper go.mod/go.sum. A tool is rebuilt only when
# that record changes or the binary is missing. Binaries are linked to a
# temporary name and moved into place before the stamp is written, so an
# interrupted build never leaves a binary that looks complete.
#
# Needs only Go (network access to the Go module proxy on a cold module cache);
# everything is built with CGO_ENABLED=0 like the upstream release binaries.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/hack/tools"
BIN="${LOCALBIN:-$ROOT/bin}"
# shellcheck source=versions.env
source "$ROOT/hack/versions.env"

export CGO_ENABLED=0 GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath"
FORCE=0
GO_VERSION="$(go env GOVERSION)"

log() { printf '[build-tools] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# require_version MODDIR MODULE VERSION: fail unless MODDIR/go.mod requires
# MODULE at VERSION, so versions.env and the wrapper modules cannot drift.
require_version() {
	local got
	got="$(cd "$1" && go list -m -f '{{.Version}}' "$2")"
	[[ "$got" == "$3" ]] || die "$1/go.mod requires $2 $got but hack/versions.env says $3; update one of them"
}

# module_origin MODDIR MODULE VERSION: sets ORIGIN_COMMIT and ORIGIN_DATE to the
# commit and time of that module version as the module proxy reports them
# (the commit is empty when the proxy's .info has no Origin). Used for the
# version ldflags, since a module zip carries no git metadata.
module_origin() {
	local out
	out="$(cd "$1" && go list -m -f '{{with .Origin}}{{.Hash}}{{end}}|{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$2@$3")"
	ORIGIN_COMMIT="${out%%|*}"
	ORIGIN_DATE="${out#*|}"
}

# stamp_of MODDIR VERSION LDFLAGS: the text a stamp must contain to be current.
stamp_of() {
	printf 'version=%s\ngo=%s\nldflags=%s\nmodule=%s\n' "$2" "$GO_VERSION" "$3" \
		"$(cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -d' ' -f1)"
}

# build NAME VERSION MODDIR OUTDIR LDFLAGS PKG:BIN...
# Builds each PKG from MODDIR into OUTDIR/BIN unless OUTDIR/.NAME.stamp is current.
build() {
	local name="$1" version="$2" moddir="$3" outdir="$4" ldflags="$5"
	shift 5
	local stamp="$outdir/.$name.stamp" want pb ok=1
	want="$(stamp_of "$moddir" "$version" "$ldflags")"
	for pb in "$@"; do [[ -x "$outdir/${pb#*:}" ]] || ok=0; done
	if [[ $FORCE == 0 && $ok == 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
		log "$name $version: up to date in ${outdir#"$ROOT"/}"
		return
	fi
	mkdir -p "$outdir"
	rm -f "$stamp"
	local tmp t0 times=()
	tmp="$(mktemp -d "$outdir/.build-$name.XXXXXX")"
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	for pb in "$@"; do
		log "$name $version: building ${pb%%:*} ..."
		t0=$(date +%s)
		(cd "$moddir" && go build -ldflags "$ldflags" -o "$tmp/${pb#*:}" "${pb%%:*}")
		times+=($(($(date +%s) - t0)))
	done
	for pb in "$@"; do mv -f "$tmp/${pb#*:}" "$outdir/${pb#*:}"; done
	rm -rf "$tmp"
	trap - EXIT
	printf '%s\n' "$want" >"$stamp"
	local i=0
	for pb in "$@"; do
		log "$name $version: built ${outdir#"$ROOT"/}/${pb#*:} in ${times[i++]}s ($(($(stat -c %s "$outdir/${pb#*:}") / 1048576)) MiB)"
	done
}

build_cluster() {
	local out="$BIN/k8s/$KUBERNETES_VERSION" minor="${KUBERNETES_VERSION#*.}"
	minor="${minor%%.*}"
	local v ldflags=""
	module_origin "$TOOLS/kube-apiserver" k8s.io/kubernetes "v$KUBERNETES_VERSION"
	# hack/lib/version.sh in kubernetes sets both version packages.
	for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $v.gitVersion=v$KUBERNETES_VERSION -X $v.gitMajor=${KUBERNETES_VERSION%%.*} -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
		ldflags+="${ORIGIN_DATE:+ -X $v.buildDate=$ORIGIN_DATE}${ORIGIN_COMMIT:+ -X $v.gitCommit=$ORIGIN_COMMIT}"
	done
	require_version "$TOOLS/kube-apiserver" k8s.io/kubernetes "v$KUBERNETES_VERSION"
	build kubernetes "v$KUBERNETES_VERSION" "$TOOLS/kube-apiserver" "$out" "${ldflags# }" \
		k8s.io/kubernetes/cmd/kube-apiserver:kube-apiserver k8s.io/kubernetes/cmd/kubectl:kubectl

	require_version "$TOOLS/etcd" go.etcd.io/etcd/server/v3 "v$ETCD_VERSION"
	# etcd's version is a constant in go.etcd.io/etcd/api/v3/version; upstream
	# sets only the short GitSHA by ldflags.
	module_origin "$TOOLS/etcd" go.etcd.io/etcd/server/v3 "v$ETCD_VERSION"
	build etcd "v$ETCD_VERSION" "$TOOLS/etcd" "$out" "${ORIGIN_COMMIT:+-X go.etcd.io/etcd/api/v3/version.GitSHA=${ORIGIN_COMMIT:0:7}}" \
		go.etcd.io/etcd/server/v3:etcd
}

# build_controllers [version...]: the given controllers (each must be one of
# WORKFLOW_CONTROLLER_VERSIONS), default all of them.
build_controllers() {
	local v a versions=("$@")
	[[ ${#versions[@]} -gt 0 ]] || read -ra versions <<<"${WORKFLOW_CONTROLLER_VERSIONS//,/ }"
	for v in "${versions[@]}"; do
		[[ ",$WORKFLOW_CONTROLLER_VERSIONS," == *",$v,"* ]] || die "controller $v is not in WORKFLOW_CONTROLLER_VERSIONS ($WORKFLOW_CONTROLLER_VERSIONS)"
		a=github.com/argoproj/argo-workflows/${v%%.*} # v4.x lives at module path .../v4
		[[ -d "$TOOLS/workflow-controller/$v" ]] || die "no wrapper module hack/tools/workflow-controller/$v"
		require_version "$TOOLS/workflow-controller/$v" "$a" "$v"
		# Same -X flags as the Argo Makefile. version picks the default executor
		# image tag (quay.io/argoproj/argoexec:<version>); with the commit as
		# well the controller reports plain "<version>", else "<version>+unknown".
		module_origin "$TOOLS/workflow-controller/$v" "$a" "$v"
		build workflow-controller "$v" "$TOOLS/workflow-controller/$v" "$BIN/workflow-controller/$v" \
			"-X $a.version=$v -X $a.gitTag=$v -X $a.gitTreeState=clean${ORIGIN_DATE:+ -X $a.buildDate=$ORIGIN_DATE}${ORIGIN_COMMIT:+ -X $a.gitCommit=$ORIGIN_COMMIT}" \
			"$a/cmd/workflow-controller:workflow-controller"
	done
}

build_lint() {
	local m="$TOOLS/lint"
	require_version "$m" github.com/golangci/golangci-lint/v2 "$GOLANGCI_LINT_VERSION"
	require_version "$m" golang.org/x/vuln "$GOVULNCHECK_VERSION"
	build golangci-lint "$GOLANGCI_LINT_VERSION" "$m" "$BIN" "-X main.version=${GOLANGCI_LINT_VERSION#v}" \
		"github.com/golangci/golangci-lint/v2/cmd/golangci-lint:golangci-lint-$GOLANGCI_LINT_VERSION"
	build govulncheck "$GOVULNCHECK_VERSION" "$m" "$BIN" "" \
		"golang.org/x/vuln/cmd/govulncheck:govulncheck-$GOVULNCHECK_VERSION"
	# actionlint has its own wrapper module (hack/tools/actionlint/go.mod says why).
	require_version "$TOOLS/actionlint" github.com/rhysd/actionlint "$ACTIONLINT_VERSION"
	build actionlint "$ACTIONLINT_VERSION" "$TOOLS/actionlint" "$BIN" "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
		"github.com/rhysd/actionlint/cmd/actionlint:actionlint-$ACTIONLINT_VERSION"
	ln -sfn "golangci-lint-$GOLANGCI_LINT_VERSION" "$BIN/golangci-lint"
	ln -sfn "actionlint-$ACTIONLINT_VERSION" "$BIN/actionlint"
	ln -sfn "govulncheck-$GOVULNCHECK_VERSION" "$BIN/govulncheck"
}

# build_vulndb: the OSV entries ship inside the golang.org/x/vulndb module
# (data/osv/*.json), so the module proxy is enough to build the database that
# vuln.go.dev serves. indexdb comes from the same module version (wrapper
# hack/tools/vulndb). The database is written to a temporary directory, the
# stamp into it, and the directory renamed into place last: a directory
# bin/vulndb/<version> with a current stamp is always complete.
build_vulndb() {
	local m="$TOOLS/vulndb" v="$VULNDB_VERSION" out="$BIN/vulndb/$VULNDB_VERSION"
	require_version "$m" golang.org/x/vulndb "$v"
	build indexdb "$v" "$m" "$BIN/vulndb" "" golang.org/x/vulndb/cmd/indexdb:indexdb-"$v"
	local want
	want="$(stamp_of "$m" "$v" "")"
	if [[ $FORCE == 0 && -f "$out/.vulndb.stamp" && "$(cat "$out/.vulndb.stamp")" == "$want" ]]; then
		log "vulndb $v: up to date in ${out#"$ROOT"/}"
		return
	fi
	local src tmp t0
	src="$(cd "$m" && go mod download golang.org/x/vulndb && go list -m -f '{{.Dir}}' golang.org/x/vulndb)"
	[[ -d "$src/data/osv" ]] || die "golang.org/x/vulndb@$v has no data/osv folder (module dir '$src')"
	tmp="$(mktemp -d "$BIN/vulndb/.build-vulndb.XXXXXX")"
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	log "vulndb $v: indexing $(find "$src/data/osv" -name '*.json' | wc -l) OSV entries ..."
	t0=$(date +%s)
	"$BIN/vulndb/indexdb-$v" -vulns "$src/data/osv" -out "$tmp/db"
	printf '%s\n' "$want" >"$tmp/db/.vulndb.stamp"
	rm -rf "$out"
	mv "$tmp/db" "$out"
	rm -rf "$tmp"
	trap - EXIT
	log "vulndb $v: built ${out#"$ROOT"/} in $(($(date +%s) - t0))s ($(du -sm "$out" | cut -f1) MiB, snapshot of $(cd "$m" && go list -m -f "{{.Time.UTC}}" golang.org/x/vulndb))"
}

main() {
	local targets=() t
	for t in "$@"; do
		case "$t" in
		-f | --force) FORCE=1 ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		all | cluster | controllers | controller:v* | lint | vulndb) targets+=("$t") ;;
		*) die "unknown target '$t' (want all, cluster, controllers, controller:<version>, lint or vulndb)" ;;
		esac
	done
	[[ ${#targets[@]} -gt 0 ]] || targets=(all)
	local start=$(date +%s)
	for t in "${targets[@]}"; do
		case "$t" in
		all) build_cluster; build_controllers; build_lint; build_vulndb ;;
		cluster) build_cluster ;;
		controllers) build_controllers ;;
		controller:*) build_controllers "${t#controller:}" ;;
		lint) build_lint; build_vulndb ;;
		vulndb) build_vulndb ;;
		esac
	done
	log "done in $(($(date +%s) - start))s"
}

main "$@"

# cxloop Makefile. Versions of every tool and control-plane binary live here.

K8S_VERSION        ?= 1.37.2
ETCD_VERSION       ?= 3.6.16
CONTROLLER_TOOLS   ?= v0.23.0

LOCALBIN           ?= $(CURDIR)/bin
CACHE_DIR          ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/cxloop
ENVTEST_ASSETS_DIR ?= $(CACHE_DIR)/k8s/$(K8S_VERSION)
CONTROLLER_GEN     ?= $(LOCALBIN)/controller-gen
# Helm and the Prometheus Operator API are pinned in hack/helm/go.mod, a
# module of its own: their Kubernetes libraries never reach the operator's.
required_version    = $(shell awk '{for (i = 1; i < NF; i++) if ($$i == "$(1)") print $$(i+1)}' hack/helm/go.mod)
HELM_VERSION       := $(call required_version,helm.sh/helm/v3)
HELM               ?= $(CACHE_DIR)/helm/$(HELM_VERSION)/helm
# The Kubernetes version helm template and helm lint assume: its client-go's.
HELM_K8S_MINOR     := $(word 2,$(subst ., ,$(call required_version,k8s.io/client-go)))
PROMETHEUS_OPERATOR_VERSION := $(call required_version,github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring)
PROMETHEUS_OPERATOR_CRDS    ?= $(CACHE_DIR)/prometheus-operator/$(PROMETHEUS_OPERATOR_VERSION)

GO ?= go
export GOTOOLCHAIN = local

# The one version the manager, kubectl-cx, the image and install.yaml name.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION    ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null)
VERSION_PKG := github.com/cxloop/cxloop/internal/version
LDFLAGS     := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(REVISION)
# Release binaries: stripped, without build paths, static.
RELEASE_LDFLAGS := -s -w $(LDFLAGS)

IMAGE           ?= ghcr.io/cxloop/cxloop-manager
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
KREW_PLATFORMS  ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
DIST            ?= $(LOCALBIN)

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: controller-gen ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC.
	$(CONTROLLER_GEN) rbac:roleName=cxloop-manager crd:allowDangerousTypes=true paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(GO) run ./hack/chart

.PHONY: chart
chart: ## Copy the CRDs, the generated ClusterRole, the admission policy and the alerts into charts/cxloop.
	$(GO) run ./hack/chart

.PHONY: fmt
fmt:
	$(GO) fmt ./...

.PHONY: vet
vet:
	$(GO) vet ./...

.PHONY: build
build: generate ## Build the manager and the kubectl plugin.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/manager ./cmd/manager
	$(GO) build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/kubectl-cx ./cmd/kubectl-cx

.PHONY: kubectl-cx
kubectl-cx: ## Build the kubectl plugin into bin/kubectl-cx.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/kubectl-cx ./cmd/kubectl-cx

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver and etcd from the Go module proxy (cached).
	@bash hack/build-control-plane.sh $(K8S_VERSION) $(ETCD_VERSION) $(ENVTEST_ASSETS_DIR)

.PHONY: helm
helm: $(HELM) ## Build the Helm CLI pinned in hack/helm/go.mod (cached).
$(HELM):
	cd hack/helm && $(GO) build -trimpath -o $(HELM) -ldflags "-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
		$(foreach p,chartutil lint/rules,-X helm.sh/helm/v3/pkg/$(p).k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$(p).k8sVersionMinor=$(HELM_K8S_MINOR))" \
		helm.sh/helm/v3/cmd/helm

.PHONY: prometheus-operator-crds
prometheus-operator-crds: $(PROMETHEUS_OPERATOR_CRDS)/monitoring.coreos.com_servicemonitors.yaml ## Generate the ServiceMonitor and PrometheusRule CRDs of the pinned Prometheus Operator API (cached).
$(PROMETHEUS_OPERATOR_CRDS)/monitoring.coreos.com_servicemonitors.yaml: $(CONTROLLER_GEN)
	rm -rf $(PROMETHEUS_OPERATOR_CRDS).tmp && mkdir -p $(PROMETHEUS_OPERATOR_CRDS).tmp
	cd hack/helm && $(CONTROLLER_GEN) crd:crdVersions=v1,allowDangerousTypes=true \
		paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1 output:crd:dir=$(PROMETHEUS_OPERATOR_CRDS).tmp
	rm -rf $(PROMETHEUS_OPERATOR_CRDS) && mkdir -p $(PROMETHEUS_OPERATOR_CRDS)
	mv $(PROMETHEUS_OPERATOR_CRDS).tmp/monitoring.coreos.com_prometheusrules.yaml $(PROMETHEUS_OPERATOR_CRDS).tmp/monitoring.coreos.com_servicemonitors.yaml $(PROMETHEUS_OPERATOR_CRDS)/
	rm -rf $(PROMETHEUS_OPERATOR_CRDS).tmp

.PHONY: test
test: manifests generate envtest-assets helm prometheus-operator-crds ## Run every test against real components.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS_DIR) HELM=$(HELM) PROMETHEUS_OPERATOR_CRDS=$(PROMETHEUS_OPERATOR_CRDS) \
		bash hack/with-services.sh $(GO) test ./... -count=1

.PHONY: bench
bench: envtest-assets ## Benchmarks against baselines, each printing a ratio (PostgreSQL driver vs psql; the decision simulation; the operator at scale vs one GROUP BY; a five-year backtest vs one GROUP BY, with and without an index; CSV aggregation vs awk; the heap a history holds vs its bare counts).
	bash hack/with-services.sh $(GO) run ./bench/pgnps
	$(GO) run ./bench/simulate
	$(GO) run ./bench/scale -assets $(ENVTEST_ASSETS_DIR)
	$(GO) run ./bench/history
	$(GO) run ./bench/history -index=false
	$(GO) test ./internal/source -run '^$$' -bench 'BenchmarkCSVQuery|BenchmarkSQLiteHistoryHeldPerStatistic' -benchtime 3x

.PHONY: demo
demo: envtest-assets kubectl-cx ## Show the whole loop on an embedded control plane and SQLite warehouse.
	$(LOCALBIN)/kubectl-cx demo --assets $(ENVTEST_ASSETS_DIR) $(DEMO_FLAGS)

##@ Release

.PHONY: chart-package
chart-package: chart helm ## Package charts/cxloop with VERSION (vX.Y.Z) as version and appVersion into bin/.
	$(HELM) package charts/cxloop --version $(VERSION:v%=%) --app-version $(VERSION) --destination $(DIST)

.PHONY: image
image: ## Build the manager image for IMAGE_PLATFORMS, without a container daemon, into bin/cxloop-manager.oci.tar.
	@for p in $(IMAGE_PLATFORMS); do \
	  echo "manager $(VERSION) for $$p"; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags "$(RELEASE_LDFLAGS)" \
	    -o $(LOCALBIN)/$${p%/*}_$${p#*/}/manager ./cmd/manager || exit 1; \
	done
	$(GO) run ./hack/image --out $(LOCALBIN)/cxloop-manager.oci.tar --version "$(VERSION)" \
	  --revision "$(REVISION)" --created "$(SOURCE_DATE)" \
	  $(foreach p,$(IMAGE_PLATFORMS),--binary $(p)=$(LOCALBIN)/$(subst /,_,$(p))/manager)

.PHONY: release-manifests
release-manifests: manifests ## Render config/default with the image IMAGE:VERSION into bin/install.yaml.
	$(GO) run -ldflags "$(LDFLAGS)" ./hack/release --out $(DIST)/install.yaml --image $(IMAGE)

.PHONY: krew-manifest
krew-manifest: ## Pack kubectl-cx for KREW_PLATFORMS into bin/ and render its krew manifest bin/cx.yaml (VERSION=vX.Y.Z).
	@for p in $(KREW_PLATFORMS); do \
	  echo "kubectl-cx $(VERSION) for $$p"; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags "$(RELEASE_LDFLAGS)" \
	    -o $(LOCALBIN)/$${p%/*}_$${p#*/}/kubectl-cx ./cmd/kubectl-cx || exit 1; \
	done
	$(GO) run ./hack/release/krew --version "$(VERSION)" --out $(DIST) \
	  $(foreach p,$(KREW_PLATFORMS),--binary $(p)=$(LOCALBIN)/$(subst /,_,$(p))/kubectl-cx)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS)

.PHONY: help
help:
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

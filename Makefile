# wampkit developer targets. Every target covers all modules of the
# workspace (go.work): the root module, ./cluster, ./cmd/wamp, ./cmd/wampd, ./examples and
# ./integration.
#
#   make test    install test dependencies, then go test -race everywhere
#   make lint    gofmt, go vet and staticcheck on every module
#   make bench   run all benchmarks once (BENCHTIME, BENCH to narrow)
#   make fuzz    run every fuzz target for FUZZTIME each, one after another
#   make build   build bin/wampd and bin/wamp (VERSION is stamped into -version)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

GO        ?= go
MODULES   := . cluster cmd/wamp cmd/wampd examples integration
PKGS      := ./... ./cluster/... ./cmd/wamp/... ./cmd/wampd/... ./examples/... ./integration/...
TESTFLAGS ?= -race -timeout 15m
BENCH     ?= .
BENCHTIME ?= 1s
FUZZTIME  ?= 30s
STATICCHECK_VERSION := v0.8.2
GOBIN     := $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all test test-deps lint fmt vet staticcheck bench fuzz build clean

all: lint test

## test: set up what the tests need, then go test -race on every module,
## and the socket code once more without -race: a race build makes the
## plain read and write system calls where a normal build makes raw ones
## (internal/sysio: the transports and the cluster's NATS connection),
## and both must pass the same tests.
test: test-deps
	$(GO) test $(TESTFLAGS) $(PKGS)
	$(GO) test -count 1 -timeout 10m ./internal/sysio/... ./transport/... ./cluster/...

## test-deps: npm packages and Debian packages the interop tests use.
test-deps:
	bash scripts/setup-test-deps.sh

## lint: gofmt, go vet and staticcheck; any finding fails.
lint: fmt vet staticcheck

fmt:
	@out="$$(find . -name '*.go' -not -path '*/node_modules/*' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l)"; \
	if [[ -n "$$out" ]]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi; \
	echo "gofmt: ok"

vet:
	$(GO) vet $(PKGS)

staticcheck:
	@if ! command -v staticcheck >/dev/null 2>&1 && [[ ! -x "$(GOBIN)/staticcheck" ]]; then \
		echo "installing staticcheck $(STATICCHECK_VERSION)"; \
		GOBIN='$(GOBIN)' $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi
	@sc="$$(command -v staticcheck || echo "$(GOBIN)/staticcheck")"; \
	for m in $(MODULES); do \
		echo "staticcheck $$m/..."; \
		(cd "$$m" && "$$sc" ./...); \
	done

## bench: every benchmark once, with allocation counts.
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) $(PKGS)

## fuzz: every FuzzXxx target of the repository for FUZZTIME each.
fuzz:
	FUZZTIME='$(FUZZTIME)' GO='$(GO)' bash scripts/fuzz.sh $(PKGS)

## build: the router and the command line client, with their version
## stamped in.
build:
	$(GO) build -ldflags '-X main.version=$(VERSION)' -o bin/wampd ./cmd/wampd
	$(GO) build -ldflags '-X main.version=$(VERSION)' -o bin/wamp ./cmd/wamp

clean:
	rm -rf bin

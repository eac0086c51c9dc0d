# ringlimit — make help lists the targets.
GO       ?= go
BIN      := bin/ringlimit
PKGS     := ./...
FUZZTIME ?= 20s

.DEFAULT_GOAL := help

.PHONY: help build run test bench fuzz lint

help: ## list the targets
	@grep -hE '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/ringlimit
	$(GO) build -o $(BIN) ./cmd/ringlimit

run: build ## run one node on embedded defaults (HTTP on 127.0.0.1:8001)
	$(BIN) serve

test: ## go vet, then every test with the race detector (what CI runs)
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -shuffle=on -timeout 15m $(PKGS)

bench: ## hot-path, comparison, loopback and cluster benchmarks; writes bench/RESULTS.md
	bash bench/run.sh

fuzz: ## run every fuzz target for FUZZTIME each (default 20s)
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

lint: ## gofmt -l and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

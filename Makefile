# The front door: `make run` serves the store, `make test` checks it.
GO        ?= go
GOBIN     := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
STRIPE_MOCK_VERSION := v0.180.0

.PHONY: run build test bench fuzz lint migrate tools

## run: serve the store on http://localhost:4242 (local emulator unless STRIPE_SECRET_KEY is set)
run:
	$(GO) run ./cmd/storefront serve

## build: compile bin/storefront
build:
	$(GO) build -o bin/storefront ./cmd/storefront

## test: every test, against real PostgreSQL, stripe-mock and the emulator
test: tools
	$(GO) test -race -count=1 ./...

## bench: the benchmarks recorded in BENCHMARKS.md (fixed counts, so runs compare)
bench:
	$(GO) test -run '^$$' -bench WebhookIngest -benchtime 3000x ./internal/web/
	$(GO) test -run '^$$' -bench AdminList -benchtime 500x ./internal/web/
	$(GO) test -run '^$$' -bench CatalogPage -benchtime 3000x ./internal/web/
	$(GO) test -run '^$$' -bench 'AdminPayments|AdminEvents' -benchtime 300x ./internal/web/
	$(GO) test -run '^$$' -bench BatchCharge -benchtime 1x -timeout 60m ./cmd/storefront/

## fuzz: every fuzz target for FUZZTIME each (the parsers of amounts, emails, cursors,
## recovery tokens, webhook signatures and events, and the emulator's API). A count, not a
## duration: go1.26's fuzz coordinator can fail a clean run with "context deadline exceeded"
## when a duration ends while a worker is busy (go.dev/issue/75804, fixed in go1.27).
FUZZTIME ?= 100000x
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out" | grep -v '^fuzz: elapsed'; exit 1; }; \
	  done; \
	done

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## migrate: apply database migrations and exit
migrate:
	$(GO) run ./cmd/storefront migrate

## tools: install stripe-mock, which the contract tests run, and axe-core, with which
## the browser tests check each page's accessibility
AXE_CORE_VERSION := 4.14.1
tools:
	@command -v stripe-mock >/dev/null 2>&1 || $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)
	@test -f .cache/axe/node_modules/axe-core/axe.min.js || npm install --silent --no-audit --no-fund --prefix .cache/axe axe-core@$(AXE_CORE_VERSION)

GO      ?= go
BIN     := bin/queuecast

.PHONY: build run test test-go test-interop bench lint fixture

## build: compile bin/queuecast
build:
	$(GO) build -o $(BIN) ./cmd/queuecast

## run: start the server on :5000 with embedded SQLite and demo services
run: build
	./$(BIN) serve

## lint: gofmt + go vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

## test: every Go test with -race, then the socket.io-client interop suite
test: lint build test-go test-interop

test-go:
	$(GO) test -race -count=1 ./...

test-interop: build
	cd gateway/interop && npm ci --no-audit --no-fund --loglevel=error
	cd gateway/interop && QUEUECAST_BIN=$(CURDIR)/$(BIN) node --test --test-concurrency=1

## fixture: the protocol fixture for the official Engine.IO / Socket.IO suites on :3000
fixture: build
	./$(BIN) fixture

## loadgen: compile bin/loadgen, the Socket.IO load generator
.PHONY: loadgen
loadgen:
	$(GO) build -o bin/loadgen ./benchmarks/loadgen

## bench: every load scenario against queuecast and the Node peer; writes
## benchmarks/results/<date>.md (BENCH_FLAGS=-quick for a smoke run)
## (SCENARIOS=cluster: the cross-node benchmark alone, on the local PostgreSQL)
bench: build loadgen
	cd benchmarks/peers/node && npm ci --no-audit --no-fund --loglevel=error
	./benchmarks/run.sh $(BENCH_FLAGS)

## soak: churn, fan-out, acks, REST and bad input at once against a fresh
## server for SOAK_DURATION (default 10m), printing RSS and goroutines; fails
## when they grow without bound or the healthy traffic sees an error
.PHONY: soak
SOAK_DURATION ?= 10m
soak: build loadgen
	SOAK_DURATION=$(SOAK_DURATION) ./benchmarks/soak.sh $(SOAK_FLAGS)

## cluster: three nodes on loopback against the local PostgreSQL (database
## queuecast_cluster, created if missing) behind a round-robin proxy on :5000
.PHONY: cluster
cluster: build
	$(GO) build -o bin/rrproxy ./benchmarks/rrproxy
	./scripts/cluster.sh

## proto: regenerate the cluster envelope (needs protoc and protoc-gen-go v1.36.12)
.PHONY: proto
proto:
	protoc --go_out=. --go_opt=paths=source_relative actors/cluster/wire/envelope.proto

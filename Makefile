# medshare — the two commands that matter:
#   make run    the whole system on loopback (Ctrl-C stops it and removes run/)
#   make test   vet, every test (unit, integration on real processes), compose smoke test

GO       ?= go
BIN      := bin/medshare
FUZZTIME ?= 30s

.PHONY: all build kubo run down test deps unit compose-test fuzz bench bench-ledger bench-chaincode bench-abe bench-gateway proto image clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/medshare
	$(GO) build -o $(BIN) ./cmd/medshare

# kubo, the IPFS daemon, is built from the Go module proxy by its own module
# (tools/kubo pins the version) as a static binary, cached per version in
# KUBO_CACHE (git-ignored; `make clean` keeps it) and linked to bin/ipfs.
# A cold build takes a few minutes on 2 cores; a cached one is instant.
KUBO_CACHE   ?= .cache/kubo
KUBO_VERSION := $(shell awk '$$1 == "github.com/ipfs/kubo" { print $$2 }' tools/kubo/go.mod)
KUBO_BUILT   := $(KUBO_CACHE)/$(KUBO_VERSION)/ipfs

kubo: bin/ipfs ## build kubo (IPFS) into bin/ipfs, cached in KUBO_CACHE

bin/ipfs: $(KUBO_BUILT)
	@mkdir -p $(@D)
	ln -f $< $@ 2>/dev/null || cp -f $< $@

$(KUBO_BUILT): tools/kubo/go.mod tools/kubo/go.sum
	@mkdir -p $(@D)
	cd tools/kubo && CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(abspath $@).tmp github.com/ipfs/kubo/cmd/ipfs
	mv -f $@.tmp $@

# The whole system in the foreground: `medshare network run` supervises
# every process (each dies with it) and removes run/ when it stops, so a
# Ctrl-C (SIGINT to the whole process group) leaves nothing behind and a
# second `make run` starts afresh. scripts/network.sh up runs the same in
# the background.
run: build kubo ## the whole system on loopback: nodes, channels, contracts, kubo, gateways, demo users; Ctrl-C stops it
	@$(BIN) network run --dir run

down: ## stop a network started by `scripts/network.sh up` and delete its state
	scripts/network.sh down

# Packages run one at a time (-p 1): the integration tests start three node
# processes each and measure nothing, but a saturated 2-core machine makes
# Raft elections needlessly slow.
test: kubo deps ## go vet, all tests (kubo built first), the docker-compose smoke test
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 20m ./...
	scripts/compose-test.sh

unit: ## the tests that start no processes (quick; -short skips those that start kubo)
	$(GO) test -short -count=1 $$($(GO) list ./... | grep -v -e '/network$$' -e '/chaincode$$' -e '/cmd/medshare$$' -e '/gateway/e2e$$')

deps: ## install the Debian packages the tests use (jq, curl, openssl) if missing
	@scripts/deps.sh

compose-test: ## the docker-compose smoke test alone
	scripts/compose-test.sh

# Every fuzz target, FUZZTIME each (go test -fuzz runs one target at a time).
# Minimising each new interesting input may take FUZZMINIMIZETIME (Go's
# default is 60s): with slow inputs (the abe parsers check curve points) the
# default keeps every worker minimising and almost nothing gets executed.
FUZZMINIMIZETIME ?= 1s
fuzz: ## run every fuzz target for FUZZTIME (default 30s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg; \
	  done; done

bench: bench-ledger bench-chaincode bench-abe bench-gateway ## every benchmark (minutes)

bench-ledger: build ## ledger throughput and latency at concurrency 50 and 250 (docs/ledger.md)
	$(BIN) bench ledger

bench-chaincode: build ## Tx_sto and Tx_acc throughput and latency at concurrency 50 and 250 (docs/chaincode.md)
	$(BIN) bench chaincode

bench-gateway: build kubo ## gateway uploads, queries and accesses over HTTPS, table and plot (docs/gateway.md)
	$(BIN) bench gateway -out docs/gateway-bench.png

bench-abe: build ## ABE timings and sizes, table and plot (docs/abe.md)
	$(BIN) bench abe -out docs/abe-bench.png

proto: ## regenerate network/pb from its .proto files (needs protoc, protoc-gen-go, protoc-gen-go-grpc)
	cd network/pb && $(GO) generate .

image: kubo ## the FROM-scratch images medshare:local (nodes, gateways) and medshare-kubo:local
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/medshare-static ./cmd/medshare
	mkdir -p bin/image-data
	DOCKER_BUILDKIT=0 docker build -q -t medshare:local . >/dev/null 2>&1 || DOCKER_BUILDKIT=0 docker build -t medshare:local .
	DOCKER_BUILDKIT=0 docker build -q -t medshare-kubo:local -f Dockerfile.kubo . >/dev/null 2>&1 || DOCKER_BUILDKIT=0 docker build -t medshare-kubo:local -f Dockerfile.kubo .

clean: ## remove build output and local network state (keeps the kubo cache)
	rm -rf bin run run.log

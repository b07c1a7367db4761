# Varta: `make run` starts a relay on loopback with a demo agency;
# `make test` runs the whole test suite. Both install what is missing first.

GO      ?= go
DATA    ?= var/agency
LISTEN  ?= 127.0.0.1:7700
BIN     := bin

.PHONY: all deps build run test test-short bench fuzz proto vet clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	CGO_ENABLED=0 $(GO) build -o $(BIN)/vartad ./cmd/vartad
	$(GO) build -o $(BIN)/varta ./cmd/varta

run: build
	@DATA="$(DATA)" LISTEN="$(LISTEN)" BIN="$(BIN)" bash scripts/run.sh

vet:
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -timeout 25m ./...

test-short: deps
	$(GO) test -short ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./server/ ./protocol/

# Run every fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz: deps
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Regenerate protocol/pb from protocol/pb/varta.proto (needs protoc and protoc-gen-go).
proto:
	protoc --go_out=. --go_opt=module=github.com/varta-ptt/varta protocol/pb/varta.proto

clean:
	rm -rf $(BIN)

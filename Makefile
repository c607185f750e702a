# umlvnf: the two commands are `make run` and `make test`.
CARGO ?= cargo
TOPOLOGY ?= topologies/quickstart.yaml

.PHONY: run test deps build build-debug lint fmt clean

## run: install what is missing, build in release mode, deploy the quickstart lab (Ctrl-C tears it down)
run: build
	./target/release/umlvnf up --check $(TOPOLOGY)

## test: install what is missing, build (the appliance kernel once, then cached), run the whole suite (root tests need root); see tests/suite.sh
test: deps
	CARGO="$(CARGO)" bash tests/suite.sh

deps:
	bash deploy/install-deps.sh

build: deps
	$(CARGO) build --release --workspace --bins

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

## fuzz: run every fuzz target (crates/fuzz) for FUZZ_SECONDS each (default 5 minutes), in release mode
FUZZ_SECONDS ?= 300
.PHONY: fuzz
fuzz:
	$(CARGO) run --release -p umlvnf-fuzz -- --seconds $(FUZZ_SECONDS)

# Tool functions in Go, TypeScript, Rust and Java: installs, lint + tests, host builds for the
# local engine (src/sfn_agents/launchers.py) and the environment `sam build` needs.
# Install steps leave stamp files in .tools/, so they run again only when their inputs change.

# Its node_modules/.bin has the esbuild `sam build` runs.
NODE_DIR  := functions/tools/earthquakes
TOOLS_DIR := .tools
# Every tool directory, found by its manifest, so a tool `sfn-agents new tool` adds is linted,
# tested and built like the others.
GO_TOOLS   := $(patsubst %/go.mod,%,$(wildcard functions/tools/*/go.mod))
NODE_TOOLS := $(patsubst %/package.json,%,$(wildcard functions/tools/*/package.json))
RUST_TOOLS := $(patsubst %/Cargo.toml,%,$(wildcard functions/tools/*/Cargo.toml))
JAVA_TOOLS := $(patsubst %/pom.xml,%,$(wildcard functions/tools/*/pom.xml))
NPM_STAMPS := $(NODE_TOOLS:functions/tools/%=$(TOOLS_DIR)/npm-%.installed)
GO_STAMPS  := $(GO_TOOLS:functions/tools/%=$(TOOLS_DIR)/go-%.installed)

# rustup looks for its toolchains in $HOME/.rustup. Under another HOME (a scratch one, as a
# newcomer's first run may have) it finds none, so point it at the toolchains installed beside the
# cargo it runs.
ifeq ($(RUSTUP_HOME)$(wildcard $(HOME)/.rustup/toolchains),)
RUSTUP_BESIDE_CARGO := $(wildcard $(dir $(shell command -v rustup 2>/dev/null))../../.rustup/toolchains)
ifneq ($(RUSTUP_BESIDE_CARGO),)
export RUSTUP_HOME := $(abspath $(RUSTUP_BESIDE_CARGO)/..)
endif
endif

# The Lambda runtime is java21, so Maven needs a JDK >= 21 (the machine's default may be 17).
JAVA21_HOME ?= $(patsubst %/bin/javac,%,$(firstword $(wildcard \
  /usr/lib/jvm/temurin-2[1-9]*/bin/javac /usr/lib/jvm/java-2[1-9]-openjdk*/bin/javac)))
# Same flags as the engine's lazy Go build, so both share Go's build cache.
GO_ENV := CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
MVN := JAVA_HOME=$(JAVA21_HOME) mvn -q -B
# -q hides Surefire's "Tests run: ..." lines too: this logger alone stays at info.
SUREFIRE_INFO := -Dorg.slf4j.simpleLogger.log.org.apache.maven.plugin.surefire=info
# For `sam build`: Maven on JDK 21+, cargo-lambda (+ zig) and esbuild on PATH.
SAM_BUILD_ENV = JAVA_HOME=$(JAVA21_HOME) \
  PATH=$(JAVA21_HOME)/bin:$(CURDIR)/$(TOOLS_DIR)/cargo-lambda/bin:$(CURDIR)/$(NODE_DIR)/node_modules/.bin:$$PATH

.PHONY: tools-install tools-test tools-local-build tools-java21 tools-sam-prereqs \
  $(foreach lang,go node rust java,tools-test-$(lang) tools-build-$(lang))

tools-java21:
	@test -n "$(JAVA21_HOME)" || { echo "the Java tools need a JDK >= 21: none found in" \
	  "/usr/lib/jvm (temurin-2x, java-2x-openjdk); install one or set JAVA21_HOME" >&2; exit 1; }

# Every Debian package the project uses, in one apt-get: two at once would fight over dpkg's lock
# when `make test` runs steps in parallel. Chromium is the web UI tests' browser; autotools build
# the Node runtime interface client's bundled curl.
DEBIAN_PACKAGES := chromium autoconf automake libtool
$(TOOLS_DIR)/debian.installed:
	dpkg -s $(DEBIAN_PACKAGES) >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES); }
	@mkdir -p $(@D) && touch $@

# cargo-lambda cross-compiles the Rust tool for arm64 with zig (sam build only).
$(TOOLS_DIR)/cargo-lambda/.installed:
	$(or $(PYTHON313),python3) -m venv $(TOOLS_DIR)/cargo-lambda
	$(TOOLS_DIR)/cargo-lambda/bin/pip install --quiet cargo-lambda==1.9.2 ziglang==0.17.1
	touch $@

$(NPM_STAMPS): $(TOOLS_DIR)/npm-%.installed: functions/tools/%/package-lock.json
	cd functions/tools/$* && npm ci --no-audit --no-fund
	@mkdir -p $(@D) && touch $@

# AWS's Node runtime interface client, which the engine runs Node functions with. It builds a
# native addon: autotools for its bundled curl, node-gyp with the headers of the node in /usr.
$(TOOLS_DIR)/node-ric/.installed: | $(TOOLS_DIR)/debian.installed
	mkdir -p $(@D)
	npm_config_nodedir=/usr npm install --prefix $(@D) --no-audit --no-fund aws-lambda-ric@4.0.2
	touch $@

$(GO_STAMPS): $(TOOLS_DIR)/go-%.installed: functions/tools/%/go.sum
	cd functions/tools/$* && go mod download
	@mkdir -p $(@D) && touch $@

# Maven resolves its dependencies in the first `mvn` run.
tools-install: tools-java21 $(NPM_STAMPS) $(TOOLS_DIR)/node-ric/.installed $(GO_STAMPS)

# Each language's lint + tests, and its host build where the engine looks for it (the engine also
# builds lazily when sources are newer). The touch marks each artifact newer than its sources, as
# the engine's own build does. One target per language, so `make -j` runs the languages side by
# side; within a language, steps stay in order.
tools-test: $(foreach lang,go node rust java,tools-test-$(lang))
tools-local-build: $(foreach lang,go node rust java,tools-build-$(lang))

tools-test-go: $(GO_STAMPS)
	@for dir in $(GO_TOOLS); do unformatted=$$(gofmt -l $$dir) && test -z "$$unformatted" || \
	  { echo "gofmt -l: $$unformatted" >&2; exit 1; }; done
	for dir in $(GO_TOOLS); do (cd $$dir && $(GO_ENV) go vet ./... && $(GO_ENV) go test ./...) || exit 1; done
tools-build-go: $(GO_STAMPS)
	for dir in $(GO_TOOLS); do (cd $$dir && $(GO_ENV) go build -o .local-build/bootstrap . && \
	  touch .local-build/bootstrap) || exit 1; done

tools-test-node: $(NPM_STAMPS) $(TOOLS_DIR)/node-ric/.installed
	for dir in $(NODE_TOOLS); do (cd $$dir && npm test) || exit 1; done
tools-build-node: $(NPM_STAMPS) $(TOOLS_DIR)/node-ric/.installed
	for dir in $(NODE_TOOLS); do (cd $$dir && npm run --silent build && touch dist/index.js) || exit 1; done

# cargo takes a lock on the target directory, so its test and build never overlap; `+` hands it
# make's jobserver, so its compiles share make's -j slots.
tools-test-rust:
	+for dir in $(RUST_TOOLS); do (cd $$dir && cargo fmt --check && \
	  cargo clippy --all-targets --locked -- -D warnings && cargo test --locked) || exit 1; done
tools-build-rust:
	+for dir in $(RUST_TOOLS); do (cd $$dir && cargo build --locked && touch target/debug/bootstrap) || exit 1; done

# Maven takes no lock: the build goes first, and the tests reuse its compiled classes.
tools-test-java: tools-java21 | tools-build-java
	for dir in $(JAVA_TOOLS); do (cd $$dir && $(MVN) test $(SUREFIRE_INFO)) || exit 1; done
tools-build-java: tools-java21
	for dir in $(JAVA_TOOLS); do (cd $$dir && $(MVN) -P local-runtime package -DskipTests && \
	  touch target/local-runtime) || exit 1; done

# Only for `sam build`: rustup's servers are not a package registry, so never part of `make test`.
tools-sam-prereqs: tools-java21 $(TOOLS_DIR)/cargo-lambda/.installed $(NPM_STAMPS)
	rustup target add aarch64-unknown-linux-gnu

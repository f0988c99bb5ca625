# SecureAI Nexus — the front door. `make help` lists the targets.
SHELL := /usr/bin/env bash
MODULES := controlplane authz filters filters/peer inference-backend telemetry e2e
GO ?= go
BIN := $(CURDIR)/bin
STATICCHECK_VERSION := v0.8.2

.DEFAULT_GOAL := help

##@ Main

run: build ## Start the example mesh: control plane, two backend versions, Envoy if found
	@scripts/run.sh

test: wasm go.test.unit ## Run every test (vet, unit, golden, simulation, real xDS/OIDC/SQL peers, piiguard.wasm in the proxy-wasm emulator)

wasm: ## Build filters/piiguard.wasm (standard Go, GOOS=wasip1, reactor)
	cd filters && GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w' -o piiguard.wasm ./cmd/piiguard

build: wasm ## Build all binaries into bin/ (and piiguard.wasm)
	@mkdir -p $(BIN)
	cd controlplane && $(GO) build -o $(BIN)/ ./cmd/...
	cd inference-backend && $(GO) build -o $(BIN)/ ./cmd/...
	cd authz && $(GO) build -o $(BIN)/ ./cmd/...
	cd filters && $(GO) build -o $(BIN)/ ./cmd/piiscan

bench: ## Run benchmarks (translation, xDS propagation to 1,000 ADS clients, authz check latency)
	cd controlplane && $(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./internal/translate/ ./internal/xds/
	cd authz && $(GO) test -run '^$$' -bench . -benchmem ./internal/server/
	cd filters && $(GO) test -run '^$$' -bench . -benchmem ./scan/

e2e: build ## Start the real binaries and drive them end to end: traces into a real Jaeger v2 (built once, cached outside the repo), a real Envoy if found
	@jaeger=$$(scripts/jaeger-build.sh) || exit 1; echo "using Jaeger v2 from $$jaeger"; \
	  envoy=$${ENVOY_BIN:-$$(command -v envoy || true)}; tags=jaeger; \
	  if [ -n "$$envoy" ]; then tags="$$tags,envoy"; echo "using Envoy $$envoy"; else echo "no Envoy found (ENVOY_BIN/PATH): running without the real-sidecar test"; fi; \
	  cd e2e && JAEGER_BIN=$$jaeger ENVOY_BIN=$$envoy NEXUS_BIN=$(BIN) $(GO) test -tags $$tags -count=1 -v ./...
	@echo "Vault KV v2 key-encryption key against Vault's in-process test core (own module; first build ~7 min)"
	cd e2e/vault && GOWORK=off $(GO) test -tags vault -count=1 ./...

e2e-spire: build ## Real SPIRE server and agent from spire/ (built once, ~12 min, cached outside the repo): SDS names and Workload API
	@spire=$$(scripts/spire-build.sh) && echo "using SPIRE from $$spire" && \
	  cd e2e && SPIRE_BIN=$$spire NEXUS_BIN=$(BIN) $(GO) test -tags spire -run TestSPIRE -count=1 -v ./...

lint: lint.gofmt lint.govet lint.staticcheck ## gofmt, go vet, staticcheck

##@ Parts

# Vet runs inside go test (-vet=all, which is go vet's own set, test files
# included): a separate go vet would compile every dependency a second
# time without -race, the largest single cost of a cold run.
go.test.unit: ## go vet + go test (-race for the servers) in every module; see scripts/unit-tests.sh
	@GO=$(GO) scripts/unit-tests.sh $(MODULES)

go.test.fuzz: ## Run each fuzz target for 20s
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 20s ./internal/mesh/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzTranslate -fuzztime 20s ./internal/translate/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzSetTraffic -fuzztime 20s ./internal/admin/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzParseCheckpoint -fuzztime 20s ./internal/audit/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzParseStatement -fuzztime 20s ./internal/registry/oms/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzVerifyBundle -fuzztime 20s ./internal/registry/oms/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzScanPickle -fuzztime 20s ./internal/registry/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzParseSafetensors -fuzztime 20s ./internal/registry/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzParseGGUF -fuzztime 20s ./internal/registry/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzMannWhitney -fuzztime 20s ./internal/analysis/
	cd inference-backend && $(GO) test -run '^$$' -fuzz FuzzParseChatRequest -fuzztime 20s ./internal/server/
	cd inference-backend && $(GO) test -run '^$$' -fuzz FuzzParseInferRequest -fuzztime 20s ./internal/server/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzBuild -fuzztime 20s ./internal/input/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzBodyMembers -fuzztime 20s ./internal/input/
	cd authz && $(GO) test -run '^$$' -fuzz '^FuzzParsePath$$' -fuzztime 20s ./internal/input/
	cd authz && $(GO) test -run '^$$' -fuzz '^FuzzParseBody$$' -fuzztime 20s ./internal/input/
	cd authz && $(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 20s -fuzzminimizetime 3s ./internal/opaconfig/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzExpandEnv -fuzztime 20s ./internal/opaconfig/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzDownloadedBundle -fuzztime 20s -fuzzminimizetime 3s ./internal/bundles/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzAppendOPA -fuzztime 20s ./internal/decisionlog/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzCheck -fuzztime 20s ./internal/decision/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzDecisionCache -fuzztime 20s ./internal/policy/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzScan$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzScanMatchesReference$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -tags scan_dismiss -run '^$$' -fuzz '^FuzzScanMatchesReference$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzShapeAt$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzMod97$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzContextBefore$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzMonthDate$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzGazetteerLookup$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzVehicleValidators$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzIDValidators$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz '^FuzzSecrets$$' -fuzztime 20s ./scan/
	cd filters && $(GO) test -run '^$$' -fuzz FuzzJSONRewrite -fuzztime 20s ./transform/
	cd filters && $(GO) test -run '^$$' -fuzz FuzzSSERestorer -fuzztime 20s ./transform/
	cd filters && $(GO) test -run '^$$' -fuzz FuzzParseConfig -fuzztime 20s ./piiguard/
	cd filters && $(GO) test -run '^$$' -fuzz FuzzDecodeHeaders -fuzztime 20s ./proxywasm/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 20s ./internal/decisionlog/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzAppendEntry -fuzztime 20s ./internal/decisionlog/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzSignCSR -fuzztime 20s ./internal/ca/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 20s ./internal/anchor/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzOpen -fuzztime 20s ./internal/keys/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzPlaceHold -fuzztime 20s ./internal/admin/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime 20s ./internal/consent/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzBundleHeaders -fuzztime 20s ./internal/consent/
	cd controlplane && $(GO) test -run '^$$' -fuzz FuzzCreateConsent -fuzztime 20s ./internal/admin/
	cd controlplane && $(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./internal/compliance/
	cd filters && $(GO) test -run '^$$' -fuzz FuzzAnswerScanner -fuzztime 20s ./transform/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzOpen -fuzztime 20s ./internal/sealer/
	cd authz && $(GO) test -run '^$$' -fuzz FuzzConsentBundle -fuzztime 20s ./internal/consentfeed/

test.vault-transit: ## Data keys wrapped by a real Vault or OpenBao Transit engine (VAULT_ADDR, VAULT_TOKEN; Transit mounted at transit/)
	@test -n "$(VAULT_ADDR)" || { echo "set VAULT_ADDR and VAULT_TOKEN to a Vault or OpenBao with the Transit engine at transit/"; exit 2; }
	cd controlplane && $(GO) test -tags vaulttransit -count=1 ./internal/keys/ ./internal/app/

conformance.oms: ## Verify model_signing's own release-test signatures (OMS_CONFORMANCE_DIR: their files, kept outside this repository)
	@test -n "$(OMS_CONFORMANCE_DIR)" || { echo "set OMS_CONFORMANCE_DIR to a directory holding model_signing's release-test signatures and keys"; exit 2; }
	cd controlplane && NEXUS_OMS_CONFORMANCE_DIR=$(OMS_CONFORMANCE_DIR) $(GO) test -tags conformance -count=1 -run Conformance ./internal/registry/oms/

compat.live: ## Compare nexus-authz with a live opa-envoy-plugin (OPA_ENVOY_BIN=/path/to/binary); UPDATE=1 rewrites the golden expectations from it
	@test -n "$(OPA_ENVOY_BIN)" || { echo "set OPA_ENVOY_BIN to an opa-envoy-plugin binary (built from its repository, outside this one)"; exit 2; }
	cd authz && OPA_ENVOY_BIN=$(OPA_ENVOY_BIN) $(GO) test -tags live -count=1 -run TestLive ./internal/compat/ $(if $(UPDATE),-update,)

bench.versus: ## nexus-authz against opa-envoy-plugin (OPA_ENVOY_BIN) on the same policy, traffic and driver: CPU per check, latency, RSS
	@test -n "$(OPA_ENVOY_BIN)" || { echo "set OPA_ENVOY_BIN to an opa-envoy-plugin binary"; exit 2; }
	cd authz && OPA_ENVOY_BIN=$(OPA_ENVOY_BIN) $(GO) test -run '^$$' -bench VersusOPAEnvoy -benchtime 1x -count 3 ./internal/server/

bench.v8: wasm ## Run piiguard.wasm under V8 (node --no-liftoff), as Envoy runs it: p50/p99 per body size beside native Apply (paired) and wazero of the same run, guest memory over 50,000 requests
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null || { echo "bench.v8 needs node 20 or later on PATH"; exit 2; }
	@set -e; dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	  (cd filters && $(GO) test -c -o $$dir/piiguard.test ./piiguard/); \
	  echo "== wazero (GuestOwnHost)"; \
	  (cd filters/piiguard && $$dir/piiguard.test -test.run '^$$' -test.bench 'GuestOwnHost/(wasm|native-apply)/' -test.benchtime 2000x) | tee $$dir/wazero.txt; \
	  echo "== V8, native Apply timed alongside by TestV8Inputs"; \
	  mkfifo $$dir/native.req $$dir/native.resp; \
	  (cd filters/piiguard && exec $$dir/piiguard.test -test.run '^TestV8Inputs$$' -v8.dump=$$dir -v8.serve >$$dir/native.log 2>&1) & native=$$!; \
	  node --no-liftoff --no-warnings filters/bench/v8/bench.mjs --paired --wazero $$dir/wazero.txt $(V8ARGS) $$dir || { kill $$native 2>/dev/null; cat $$dir/native.log; exit 1; }; \
	  wait $$native || { cat $$dir/native.log; exit 1; }

filters.corpus: ## Regenerate the scanner's labeled corpus (filters/testdata/corpus.jsonl)
	cd filters && $(GO) run ./internal/corpusgen > testdata/corpus.jsonl

peer.update: ## Regenerate filters/peer's fixtures: Presidio's recognizer test cases (PRESIDIO_DIR=a Presidio checkout) and gitleaks' rule examples (the gitleaks version filters/peer/go.mod requires)
	@test -n "$(PRESIDIO_DIR)" || { echo "set PRESIDIO_DIR to a checkout of github.com/microsoft/presidio (outside this repository)"; exit 2; }
	python3 filters/peer/presidio/extract.py $(PRESIDIO_DIR) filters/peer/testdata/presidio.jsonl filters/peer/testdata/presidio.source.json
	cd filters/peer && $(GO) run ./gitleaks/extract -o testdata/gitleaks.jsonl

golden: ## Regenerate translation golden files (review the diff!)
	cd controlplane && $(GO) test ./internal/translate/ -run TestGolden -update

lint.gofmt:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint.govet:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

lint.staticcheck:
	@command -v staticcheck >/dev/null || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@set -e; sc=$$(command -v staticcheck || echo $$($(GO) env GOPATH)/bin/staticcheck); \
	  for m in $(MODULES); do (cd $$m && $$sc ./...); done

clean: ## Remove binaries and local state
	rm -rf $(BIN) .data

help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_.-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: run test wasm build bench e2e e2e-spire conformance.oms lint go.test.unit go.test.fuzz golden compat.live bench.versus bench.v8 filters.corpus peer.update lint.gofmt lint.govet lint.staticcheck clean help

# sflow-monitor — one Makefile. Output in build/ (build/asan/ with SANITIZE=1).
#   make            build the service, tools and tests
#   make test       install what is missing, build, run every test; last line "N passed, N failed"
#   make deps       install the Debian packages needed to build, run and test
#   make run/stop   start/stop nginx + the service in the background (HTTP_PORT, SFLOW_PORT, VAR_DIR,
#                   SFM_ARGS: more service options, e.g. SFM_ARGS="--retention 2h")
#   make bench      benchmarks (not part of make test)
#   make mutate     break behaviours in a scratch copy and expect the tests to fail (docs/testing.md)

CXX      ?= g++
PKGS     := jsoncpp lmdb fcgi libzstd
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 -Wall -Wextra -pthread -MMD -MP -Iinclude $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lboost_program_options -pthread
ifeq ($(CI),true)
CXXFLAGS += -Werror
endif

ifeq ($(SANITIZE),1)
BUILD    := build/asan
CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# GCC 12's sanitizer builds warn falsely inside libstdc++ (<regex>, <variant>)
CXXFLAGS += -Wno-maybe-uninitialized
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    := build
endif

# src/ is what the service runs (libcore.a); testkit/ is what only tools, tests and fuzzers
# use (libtestkit.a: the encoder, sflow-gen's generator, pcap files). Only their objects see
# testkit/ headers (-I.), and the service binary does not link libtestkit.a.
CORE_SRCS := $(filter-out src/main.cpp,$(wildcard src/*.cpp))
CORE_OBJS := $(CORE_SRCS:%.cpp=$(BUILD)/%.o)
KIT_SRCS  := $(wildcard testkit/*.cpp)
KIT_OBJS  := $(KIT_SRCS:%.cpp=$(BUILD)/%.o)
TOOL_SRCS := $(wildcard tools/*.cpp)
TOOLS     := $(patsubst tools/%.cpp,$(BUILD)/%,$(subst _,-,$(TOOL_SRCS)))
TEST_SRCS := $(wildcard test/*_test.cpp) test/main.cpp
TEST_OBJS := $(TEST_SRCS:%.cpp=$(BUILD)/%.o)

.PHONY: all test unit deps run stop bench bench-fair bench-decode clean fuzz soak mutate
all: $(BUILD)/sflow-monitor $(TOOLS) $(BUILD)/unit-tests

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/testkit/%.o $(BUILD)/tools/%.o $(BUILD)/test/%.o: CXXFLAGS += -I.

$(BUILD)/libcore.a: $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libtestkit.a: $(KIT_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/sflow-monitor: $(BUILD)/src/main.o $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

# tools/sflow_gen.cpp -> build/sflow-gen
.SECONDEXPANSION:
$(TOOLS): $(BUILD)/%: $$(BUILD)/tools/$$(subst -,_,$$*).o $(BUILD)/libtestkit.a $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/unit-tests: $(TEST_OBJS) $(BUILD)/libtestkit.a $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

# test, like run, installs what is missing first (as root), so each works alone on a fresh
# machine; with everything installed that check is silent and takes a fraction of a second.
test: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) test/run-tests

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

DEB_PACKAGES := g++ make pkg-config libfcgi-dev libjsoncpp-dev liblmdb-dev lmdb-utils \
	libboost-program-options-dev doctest-dev nginx-light spawn-fcgi python3 \
	python3-jsonrpclib-pelix curl wrk clang libclang-rt-14-dev libzstd-dev \
	libjs-chart.js chromium chromium-driver python3-selenium prometheus victoria-metrics
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# SFM_ARGS (more service options) reaches scripts/run in the environment, quoting intact.
export SFM_ARGS
# run installs what is missing first (needs root then), builds, then starts in the background.
run: deps
	@$(MAKE) --no-print-directory all
	@HTTP_PORT=$(HTTP_PORT) SFLOW_PORT=$(SFLOW_PORT) VAR_DIR=$(VAR_DIR) BUILD=$(BUILD) scripts/run start

stop:
	@HTTP_PORT=$(HTTP_PORT) SFLOW_PORT=$(SFLOW_PORT) VAR_DIR=$(VAR_DIR) BUILD=$(BUILD) scripts/run stop

# make bench: bench/measure.py measures (ingest, ingest while compacting and while Prometheus
# scrapes, query, fair share, cluster.status, the 7-day stepped query, bytes per sample) against
# this machine's own ceilings into build/bench-results.json, then bench/report.py writes
# docs/performance.md from it (`bench/report.py` alone reports a saved run again). About 11
# minutes and 8 GB of disk on an idle 2-core machine; BENCH_SAMPLES=50000000 (the recorded
# run): about 14 minutes and 32 GB. BENCH_QUICK=1: about 2 minutes, no large store, short
# steps, to check that the bench works (build/bench-quick.json; the doc is left alone).
bench: all
	BUILD=$(BUILD) /usr/bin/python3 bench/measure.py
	BUILD=$(BUILD) /usr/bin/python3 bench/report.py

# the fair-share row of make bench alone (issue 16): light host.cpu p99 while 4 clients
# hammer cluster.status on 1,000 hosts × 30 VMs (about a minute)
bench-fair: all
	BUILD=$(BUILD) /usr/bin/python3 bench/measure.py --fair-share

bench-decode: all
	$(BUILD)/bench-decode

# make fuzz FUZZ_SECONDS=N: each libFuzzer target fuzz/*_fuzz.cpp for N seconds (both at once),
# under ASan+UBSan; the core is compiled again by clang into build/fuzz/ (never mixed with g++).
# Findings land in build/fuzz/findings/; keep each one under test/regress/ (docs/reliability.md).
FUZZ_SECONDS ?= 60
FUZZ_CXXFLAGS := -std=c++17 -O1 -g -fno-omit-frame-pointer -pthread -MMD -MP -Iinclude -I. \
	$(shell pkg-config --cflags $(PKGS)) -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJS := $(CORE_SRCS:%.cpp=build/fuzz/%.o) $(KIT_SRCS:%.cpp=build/fuzz/%.o)
FUZZERS   := build/fuzz/decoder-fuzz build/fuzz/rpc-fuzz
.SECONDARY: $(FUZZ_OBJS) build/fuzz/fuzz/decoder_fuzz.o build/fuzz/fuzz/rpc_fuzz.o

build/fuzz/%.o: %.cpp
	@mkdir -p $(dir $@)
	clang++ $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/%-fuzz: build/fuzz/fuzz/%_fuzz.o $(FUZZ_OBJS)
	clang++ -fsanitize=fuzzer,address,undefined $^ $(LDLIBS) -o $@

fuzz: $(FUZZERS)
	fuzz/run $(FUZZ_SECONDS)

# make soak: crash safety (kill -9 under load), floods, bounded storage; figures in docs/reliability.md
soak: all
	BUILD=$(BUILD) scripts/crash-test
	BUILD=$(BUILD) scripts/flood-test
	BUILD=$(BUILD) scripts/soak-test

# make mutate [MUTATIONS="id ..."]: scripts/mutate over a copy of this tree; never part of make test
mutate: all
	scripts/mutate $(MUTATIONS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

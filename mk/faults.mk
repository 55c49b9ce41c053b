# Proving the service holds: fault tests, load, benchmarks. Included by the
# top Makefile (which defines BUILD and `build`).
#
#   make test-faults   tests/faults (pytest): PostgreSQL stopped under load,
#                      its postmaster SIGKILLed during idempotent writes, a
#                      read-only database, a full disk (root only), workers
#                      SIGKILLed / SIGSEGVed mid-request, a crash loop, a stuck
#                      handler. Each test runs its own stack (.run/faults-*,
#                      127.0.0.1:$(FAULTS_PORT)); ~4 minutes.
#                      PYTEST_ARGS="-k kill9 -x" passes pytest arguments.
#   make load          tests/load/run: wrk at saturation through nginx with a
#                      mixed workload for LOAD_SECONDS (60) on stack "load"
#                      (127.0.0.1:18086); fails on any 5xx, worker restart or
#                      memory growth; prints p50/p99 and RSS.
#   make bench         bench/run-all: every benchmark in bench/, then one
#                      table of figure, baseline, ratio and goal.

RR_FAULTS_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
FAULTS_PORT ?= 18085

.PHONY: test-faults load bench

test-faults:
	@bash '$(RR_FAULTS_ROOT)/scripts/deps.sh'
	$(MAKE) build
	cd '$(RR_FAULTS_ROOT)' && RR_FAULTS_BUILD='$(BUILD)' RR_FAULTS_PORT='$(FAULTS_PORT)' \
	  /usr/bin/python3 -m pytest -q tests/faults $(PYTEST_ARGS)

load:
	@bash '$(RR_FAULTS_ROOT)/scripts/deps.sh'
	$(MAKE) build
	cd '$(RR_FAULTS_ROOT)' && LOAD_BUILD='$(BUILD)' /usr/bin/python3 tests/load/run

bench:
	cd '$(RR_FAULTS_ROOT)' && /usr/bin/python3 bench/run-all $(BENCH)

# Run and test targets; the top Makefile includes this file.
# The logic lives in scripts/ (run.sh, test.sh, stack.sh, deps.sh); these
# recipes only call them. `build` and `unit` come from the top Makefile.
#
#   make run        demo stack on http://127.0.0.1:8080 (DEMO_PORT=...), with a
#                   "Demo Agency" tenant and an admin key (printed)
#   make stop       stop the demo stack (its data stays in .run/demo)
#   make test       unit + API tests against a fresh stack on 127.0.0.1:18080
#   make test-asan  the same with the sanitizer build (build-asan/) on 18081
#   make stack-status / stack-env   what runs, and the env the tests get
#                   (STACK=demo|test|test-asan, default demo)

RR_STACK_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
STACK ?= demo

.PHONY: run stop test test-asan stack-status stack-env

# $(MAKE) appears in each recipe that builds, so make passes its jobserver on.
run:
	@MAKE='$(MAKE)' bash '$(RR_STACK_ROOT)/scripts/run.sh'

stop:
	@bash '$(RR_STACK_ROOT)/scripts/stack.sh' stop demo

test:
	@MAKE='$(MAKE)' bash '$(RR_STACK_ROOT)/scripts/test.sh' test

test-asan:
	@MAKE='$(MAKE)' bash '$(RR_STACK_ROOT)/scripts/test.sh' test-asan

stack-status:
	@bash '$(RR_STACK_ROOT)/scripts/stack.sh' status $(STACK) || true

stack-env:
	@bash '$(RR_STACK_ROOT)/scripts/stack.sh' env $(STACK)

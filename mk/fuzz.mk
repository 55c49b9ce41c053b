# Fuzzing with libFuzzer (clang, ASan + UBSan); the top Makefile includes
# this file. Harnesses, seed corpora and regression inputs live in
# tests/fuzz/ (its README says what each harness covers and how to add one).
#
#   make fuzz           builds every harness and runs each in turn for
#                       FUZZ_SECONDS (default 60) on its seed corpus plus the
#                       inputs kept in $(FUZZ_BUILD)/corpus/<name>/ from earlier
#                       runs; FUZZ=name1,name2 picks harnesses. Crashes land in
#                       $(FUZZ_BUILD)/artifacts/<name>/; logs in $(FUZZ_BUILD)/logs/.
#   make fuzz-smoke     what CI runs: each harness replays its corpus and its
#                       regression inputs, then fuzzes FUZZ_SMOKE_SECONDS (10).
#   make fuzz-build     only builds ($(FUZZ_BUILD)/fuzz_<name>).
#
# The core is compiled again with clang into $(FUZZ_BUILD)/ (never mixed with
# the gcc objects in $(BUILD)/), instrumented for coverage (fuzzer-no-link).
# Each harness runs alone with one process (the machine has 2 cores).

FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ         ?=

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# No -Werror for the core here: clang's warnings are not the build's contract
# (gcc's -Werror in the top Makefile is); harness code is held to -Werror.
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Iinclude -Icore \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I$(shell pg_config --includedir 2>/dev/null)
FUZZ_HFLAGS  := -Wall -Wextra -Werror -Wno-unused-parameter -Itests/fuzz

FUZZ_CORE_SRC := $(filter-out core/main.c,$(wildcard core/*.c))
FUZZ_CORE_OBJ := $(patsubst core/%.c,$(FUZZ_BUILD)/core/%.o,$(FUZZ_CORE_SRC)) \
                 $(FUZZ_BUILD)/core/sql_embedded.o
# every tests/fuzz/fuzz_<name>.c whose "fuzz-requires:" functions exist
FUZZ_NAMES    := $(sort $(shell bash tests/fuzz/harnesses.sh))
FUZZ_BINS     := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))
FUZZ_HEADERS  := $(wildcard core/*.h) include/realreach/plugin.h

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-deps fuzz-clean
# objects reached only through the pattern rules: keep them between builds
.SECONDARY: $(FUZZ_CORE_OBJ) $(FUZZ_BUILD)/fuzz_common.o

$(FUZZ_BUILD)/core/%.o: core/%.c $(FUZZ_HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/core/sql_embedded.o: $(BUILD)/core/sql_embedded.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_common.o: tests/fuzz/fuzz_common.c tests/fuzz/fuzz_common.h $(FUZZ_HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_HFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/fuzz_common.o $(FUZZ_CORE_OBJ) tests/fuzz/fuzz_common.h
	@mkdir -p $(dir $@)
	@echo "  LD-FUZZ $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_HFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_BUILD)/fuzz_common.o $(FUZZ_CORE_OBJ) $(LIBS) -lpthread

# clang, compiler-rt (libFuzzer, sanitizers) and llvm-symbolizer come from
# Debian's packages; scripts/deps.sh installs what is missing.
fuzz-deps:
	@bash scripts/deps.sh

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	@bash tests/fuzz/run.sh fuzz '$(FUZZ_BUILD)' '$(FUZZ_SECONDS)' '$(or $(FUZZ),$(FUZZ_NAMES))'

fuzz-smoke: fuzz-build
	@bash tests/fuzz/run.sh smoke '$(FUZZ_BUILD)' '$(FUZZ_SMOKE_SECONDS)' '$(or $(FUZZ),$(FUZZ_NAMES))'

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

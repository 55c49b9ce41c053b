# Unit tests and the refused test plugins; included by the top Makefile
# (which defines BUILD, CC, CFLAGS, LIBS, LDFLAGS_SAN, PLUGIN_*, CORE_OBJ and
# PLUGIN_DIRS).
#
#   make unit          builds and runs every cmocka test binary:
#                        tests/unit/test_*.c    linked with the core objects
#                                               (all but main.o)
#                        plugins/<p>/test_*.c   linked with the plugin's sources,
#                                               its embedded SQL and tests/mock
#                      every binary runs even when an earlier one fails; the
#                      target fails if any did.
#   make unit SAN=1    the same under AddressSanitizer + UBSan (leaks included).
#   make test-plugins-bad
#                      plugins the loader must refuse (built by `make build`
#                      too); kept out of tests/plugins because the server
#                      refuses to start when a configured plugin is refused.

UNIT_CORE_OBJ := $(filter-out $(BUILD)/core/main.o,$(CORE_OBJ))
UNIT_CORE_SRC := $(wildcard tests/unit/test_*.c)
UNIT_CORE_BIN := $(patsubst tests/unit/%.c,$(BUILD)/unit/core/%,$(UNIT_CORE_SRC))
MOCK_HOST_SRC := tests/mock/mock_host.c tests/mock/mock_host.h

# RR_TEST_BUILD: where test_plugins.c finds the built plugins it loads.
$(BUILD)/unit/core/%: tests/unit/%.c tests/unit/unit.h $(UNIT_CORE_OBJ) core/rr.h include/realreach/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DRR_TEST_BUILD='"$(BUILD)"' -o $@ $< $(UNIT_CORE_OBJ) $(LDFLAGS_SAN) $(LIBS) -lcmocka

# One rule per plugin: plugins/<p>/test_<x>.c -> $(BUILD)/unit/plugins/<p>/test_<x>
define plugin_unit_rules
$(BUILD)/unit/plugins/$(1)/%: plugins/$(1)/%.c $$(filter-out plugins/$(1)/test_%.c,$$(wildcard plugins/$(1)/*.c)) $$(wildcard plugins/$(1)/*.h) $(BUILD)/plugins/$(1)_sql.c $(MOCK_HOST_SRC) include/realreach/plugin.h
	@mkdir -p $$(dir $$@)
	$(CC) $(CFLAGS) -Iplugins/$(1) -Itests/mock -o $$@ $$< $$(filter-out plugins/$(1)/test_%.c,$$(wildcard plugins/$(1)/*.c)) $(BUILD)/plugins/$(1)_sql.c tests/mock/mock_host.c $(LDFLAGS_SAN) $(PLUGIN_LIBS) -lcmocka
endef
$(foreach p,$(PLUGIN_DIRS),$(eval $(call plugin_unit_rules,$(p))))
UNIT_PLUGIN_BIN := $(foreach p,$(PLUGIN_DIRS),$(patsubst plugins/$(p)/%.c,$(BUILD)/unit/plugins/$(p)/%,$(wildcard plugins/$(p)/test_*.c)))

UNIT_BIN := $(UNIT_CORE_BIN) $(UNIT_PLUGIN_BIN)

.PHONY: unit unit-build test-plugins-bad
# The loader tests dlopen() the built plugins, good and bad.
unit-build: $(UNIT_BIN) plugins test-plugins test-plugins-bad

unit: unit-build
	@failed=""; \
	for t in $(UNIT_BIN); do \
	    echo "=== $$t"; \
	    $$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "unit: FAILED:$$failed"; exit 1; fi; \
	echo "unit: all $(words $(UNIT_BIN)) test binaries passed"

# Plugins the loader must refuse, naming the field (abi_major, magic).
TEST_PLUGIN_BAD_SRC := $(wildcard tests/plugins-bad/*.c)
$(BUILD)/test-plugins-bad/%.so: tests/plugins-bad/%.c include/realreach/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) $(PLUGIN_LDFLAGS) -o $@ $< $(PLUGIN_LIBS)
test-plugins-bad: $(patsubst tests/plugins-bad/%.c,$(BUILD)/test-plugins-bad/%.so,$(TEST_PLUGIN_BAD_SRC))

build: test-plugins-bad

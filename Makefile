# realreach — build, run, test. `make run` and `make test` are all a
# newcomer needs; both install what is missing first (scripts/deps.sh).

BUILD   ?= build
SAN     ?= 0
CC      ?= cc
PKGS    := jansson libpq openssl

# -Wno-missing-field-initializers: API structs only grow at the end, and a
# positional initializer written for an older version must keep compiling.
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow \
               -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral \
               -fno-strict-aliasing -Iinclude -Icore \
               -Wno-missing-field-initializers \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I$(shell pg_config --includedir 2>/dev/null)
ifeq ($(SAN),1)
CFLAGS_BASE += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
endif
CFLAGS  ?=
CFLAGS  += $(CFLAGS_BASE)
LIBS    := -lfcgi $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ljansson -lpq -lssl -lcrypto) -ldl -lm
PLUGIN_CFLAGS := $(CFLAGS) -fPIC -fvisibility=hidden
PLUGIN_LDFLAGS := -shared $(LDFLAGS_SAN) -Wl,-z,defs -Wl,--no-undefined
PLUGIN_LIBS := $(shell pkg-config --libs jansson libpq 2>/dev/null || echo -ljansson -lpq) -lm

CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(patsubst core/%.c,$(BUILD)/core/%.o,$(CORE_SRC)) $(BUILD)/core/sql_embedded.o
SQL_FILES := $(sort $(wildcard sql/*.sql))

PLUGIN_DIRS := $(patsubst plugins/%/,%,$(sort $(dir $(wildcard plugins/*/plugin.mk))))
TEST_PLUGIN_SRC := $(wildcard tests/plugins/*.c)

.PHONY: all build clean unit format lint
all: build

build: $(BUILD)/realreach plugins test-plugins

$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/core/sql_embedded.c: $(SQL_FILES) $(BUILD)/tools/embed
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed rr_core_sql $@ $(SQL_FILES)

$(BUILD)/core/%.o: core/%.c $(wildcard core/*.h) include/realreach/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/core/sql_embedded.o: $(BUILD)/core/sql_embedded.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/realreach: $(CORE_OBJ)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LIBS)

# Each plugin folder has a plugin.mk naming its sources; plugins/<p>/sql/*.sql
# are embedded into the shared object.
define plugin_rules
$(BUILD)/plugins/$(1)_sql.c: $$(sort $$(wildcard plugins/$(1)/sql/*.sql)) $(BUILD)/tools/embed
	@mkdir -p $$(dir $$@)
	$(BUILD)/tools/embed $(1)_migrations $$@ $$(sort $$(wildcard plugins/$(1)/sql/*.sql))
$(BUILD)/plugins/$(1).so: $$(wildcard plugins/$(1)/*.c plugins/$(1)/*.h) $(BUILD)/plugins/$(1)_sql.c include/realreach/plugin.h
	@mkdir -p $$(dir $$@)
	$(CC) $(PLUGIN_CFLAGS) -Iplugins/$(1) $(PLUGIN_LDFLAGS) -o $$@ $$(filter-out plugins/$(1)/test_%.c,$$(wildcard plugins/$(1)/*.c)) $(BUILD)/plugins/$(1)_sql.c $(PLUGIN_LIBS)
endef
$(foreach p,$(PLUGIN_DIRS),$(eval $(call plugin_rules,$(p))))
plugins: $(foreach p,$(PLUGIN_DIRS),$(BUILD)/plugins/$(p).so)

# Test-only plugins (a crashing one, a stuck one, one built for another ABI).
$(BUILD)/test-plugins/%.so: tests/plugins/%.c include/realreach/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) $(PLUGIN_LDFLAGS) -o $@ $< $(PLUGIN_LIBS)
test-plugins: $(patsubst tests/plugins/%.c,$(BUILD)/test-plugins/%.so,$(TEST_PLUGIN_SRC))

-include $(filter-out mk/stack.mk,$(wildcard mk/*.mk))
-include mk/stack.mk

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --inline-suppr --suppress=missingIncludeSystem -Iinclude -Icore core plugins tests/plugins

clean:
	rm -rf build build-asan

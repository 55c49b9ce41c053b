# The audience plugin's model: training and evaluation. Included by the top
# Makefile (which defines BUILD, CC, CFLAGS).
#
#   make train-audience   trains the model on the labelled files and writes
#                         plugins/audience/model_params.c (reproducible: the
#                         same data gives the same file, whose version ends
#                         in a hash of its parameters); commit the file.
#   make eval-audience    5-fold cross-validation of the plugin's scoring code
#                         against the StatusPeople, Camisani-Calzolari and
#                         "followers >= 30" rules; prints the table that
#                         plugins/audience/README.md quotes.
#
# AUDIENCE_DATA: the directory of the labelled files (cresci-2015);
# AUDIENCE_GENUINE / AUDIENCE_FAKE: the files of each label in it.

AUDIENCE_DATA    ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../../shared/data/cresci-2015)
AUDIENCE_GENUINE ?= $(AUDIENCE_DATA)/E13.train.csv
AUDIENCE_FAKE    ?= $(AUDIENCE_DATA)/INT.train.csv
AUDIENCE_ARGS     = $(foreach f,$(AUDIENCE_GENUINE),--genuine $(f)) $(foreach f,$(AUDIENCE_FAKE),--fake $(f))

# The scoring core the plugin compiles, shared with the tools.
AUDIENCE_CORE := plugins/audience/features.c plugins/audience/model.c \
                 plugins/audience/verdict.c plugins/audience/rules.c
AUDIENCE_TOOL := tools/audience/data.c tools/audience/gbt.c
AUDIENCE_HDRS := plugins/audience/scoring.h tools/audience/data.h
AUDIENCE_TOOL_CFLAGS := $(CFLAGS) -Iplugins/audience -Itools/audience

$(BUILD)/tools/audience/train: tools/audience/train.c $(AUDIENCE_TOOL) $(AUDIENCE_CORE) $(AUDIENCE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(AUDIENCE_TOOL_CFLAGS) -o $@ tools/audience/train.c $(AUDIENCE_TOOL) $(AUDIENCE_CORE) $(LDFLAGS_SAN) -lm

$(BUILD)/tools/audience/eval: tools/audience/eval.c $(AUDIENCE_TOOL) $(AUDIENCE_CORE) plugins/audience/model_params.c $(AUDIENCE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(AUDIENCE_TOOL_CFLAGS) -o $@ tools/audience/eval.c $(AUDIENCE_TOOL) $(AUDIENCE_CORE) plugins/audience/model_params.c $(LDFLAGS_SAN) -lm

.PHONY: train-audience eval-audience
train-audience: $(BUILD)/tools/audience/train
	$(BUILD)/tools/audience/train $(AUDIENCE_ARGS) --out plugins/audience/model_params.c

eval-audience: $(BUILD)/tools/audience/eval
	@$(BUILD)/tools/audience/eval $(AUDIENCE_ARGS) --folds 5

# The committed parameters are what the recipe gives: retrain into a scratch
# file and compare (CI can run this).
.PHONY: check-audience-model
check-audience-model: $(BUILD)/tools/audience/train
	@$(BUILD)/tools/audience/train $(AUDIENCE_ARGS) --out $(BUILD)/tools/audience/model_params.c >/dev/null
	@cmp -s $(BUILD)/tools/audience/model_params.c plugins/audience/model_params.c || \
	  { echo "plugins/audience/model_params.c is not what make train-audience gives"; exit 1; }
	@echo "model parameters reproduce: $$(grep -o 'gbt-[0-9.]*-[0-9a-f]*' plugins/audience/model_params.c | head -n1)"

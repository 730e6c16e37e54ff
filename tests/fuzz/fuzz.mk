# fuzz.mk -- builds the libFuzzer harnesses with clang into build-fuzz/ (tests/fuzz/run uses it; GNU make).
#
# Usage: make -f tests/fuzz/fuzz.mk [-j2] [BUILD=build-fuzz]   (from the top
# of the source tree).  kiln's own sources are compiled apart from the
# autotools build, with coverage feedback and ASan/UBSan; the harnesses are
# then linked with libFuzzer's main.

BUILD    ?= build-fuzz
CC       := clang
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS   := -g -O1 -fno-omit-frame-pointer $(SAN) -Wall -Wextra
PKGS     := libwebsockets inih jansson libpq hiredis
# As configure builds by default: the PostgreSQL and Redis clients in.
CPPFLAGS := -Iinclude -Icore -Iworker -DKILN_WITH_POSTGRES -DKILN_WITH_REDIS \
            $(shell pkg-config --cflags $(PKGS))
LIBS     := -lev -lhttp_parser $(shell pkg-config --libs $(PKGS)) -ldl

TARGETS  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
CORE     := $(patsubst %.c,$(BUILD)/%.o,$(wildcard core/*.c))
WORKER   := $(patsubst %.c,$(BUILD)/%.o,$(wildcard worker/*.c))
# the harnesses that serve connections (tests/fuzz/feed.c)
FEED     := $(BUILD)/fuzz_request $(BUILD)/fuzz_ws_handshake

all: $(addprefix $(BUILD)/,$(TARGETS))

# kiln's code gets coverage feedback; libFuzzer's main comes at the link.
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(BUILD)/libcore.a: $(CORE)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libworker.a: $(WORKER)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/libworker.a $(BUILD)/libcore.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LIBS)
$(FEED): $(BUILD)/tests/fuzz/feed.o

.PHONY: all
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

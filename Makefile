# tarn — one top-level Makefile (STYLE.md §9).
#   make            build/tarn (-O2 -g, warnings fatal)
#   make run        install what is missing, build, start with the embedded default
#   make test       install test deps, build, unit + integration tests, "N passed, M failed"
#   make unit / make integration   one layer at a time
#   make check      the whole suite against an ASan+UBSan build (build/asan)
#   make bench      benchmarks with their ceilings (figures in docs/benchmarks.md)
#   make deps       apt-get install the missing build and test dependencies
#   make fuzz       libFuzzer targets (clang, build/fuzz), FUZZ_SECONDS (60) each
#   make fuzz-smoke every fuzz target replays its seed corpus under ASan+UBSan
#   make noopt / make format / make clean

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
SANITIZE ?=
PKGS      = libmicrohttpd liburing rocksdb libxml-2.0 libcrypto libisal inih json-c

CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -pthread \
              -fno-strict-aliasing -I.
ifneq ($(SANITIZE),)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_SAN  = -fsanitize=address,undefined
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS  = $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)
LIBS        = $(PKG_LIBS) -lm

# One archive per module so a module's unit tests build with only the
# modules it depends on (server -> auth, storage -> erasure; all -> common).
MODULES  := common erasure storage auth server
mod_src   = $(filter-out server/main.c,$(wildcard $(1)/*.c))
mod_obj   = $(patsubst %.c,$(BUILD)/obj/%.o,$(call mod_src,$(1)))
LIB_SRC  := $(foreach m,$(MODULES),$(call mod_src,$(m)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB_common  := $(BUILD)/lib/libcommon.a
LIB_erasure := $(BUILD)/lib/liberasure.a $(LIB_common)
LIB_storage := $(BUILD)/lib/libstorage.a $(LIB_erasure)
LIB_auth    := $(BUILD)/lib/libauth.a $(LIB_common)
LIB_server  := $(BUILD)/lib/libserver.a $(BUILD)/lib/libauth.a $(LIB_storage)
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
# What unit tests #include besides the code they test (check.h, testlib.c, ioloop.c).
UNIT_SHARED := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.h tests/unit/*/*.c tests/unit/*/*.h))
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
HEADERS  := $(wildcard common/*.h auth/*.h storage/*.h erasure/*.h server/*.h)
# Fuzz targets (docs/fuzzing.md): each also builds without libFuzzer as a
# unit-style binary that replays its corpus, so make unit/test/check run it.
FUZZ_NAMES  := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_NAMES:%=$(BUILD)/tests/unit/fuzz/replay_%)
UNIT_BIN    += $(FUZZ_REPLAY)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer

.PHONY: all run test unit integration check bench deps deps-test noopt format clean fuzz \
        fuzz-bins fuzz-smoke

all: $(BUILD)/tarn

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

define module_rules
$(BUILD)/lib/lib$(1).a: $(call mod_obj,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
# A unit test may #include the .c it tests (STYLE.md §8): the linker then
# keeps the test's own copy and takes the rest from the archives.
$(BUILD)/tests/unit/$(1)/%: tests/unit/$(1)/%.c $(LIB_$(1)) $(HEADERS) $(UNIT_SHARED)
	@mkdir -p $$(dir $$@)
	$(CC) $(ALL_CFLAGS) -Wno-unused-function $$< $(LIB_$(1)) $(LIBS) $(LDFLAGS_SAN) -o $$@
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

$(BUILD)/tarn: server/main.c $(LIB_server) $(HEADERS)
	$(CC) $(ALL_CFLAGS) server/main.c $(LIB_server) $(LIBS) $(LDFLAGS_SAN) -o $@

$(BUILD)/bench/%: tests/bench/%.c tests/bench/load_common.h $(LIB_server) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(LIB_server) $(LIBS) $(shell pkg-config --libs libcurl) $(LDFLAGS_SAN) -o $@

$(BUILD)/tests/unit/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h \
                                   $(LIB_server) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-unused-function -DFUZZ_NAME='"$*"' \
	    -DFUZZ_DIR='"$(CURDIR)/tests/fuzz"' $< tests/fuzz/replay.c $(LIB_server) $(LIBS) \
	    $(LDFLAGS_SAN) -o $@

# libFuzzer binaries: only in a BUILD whose objects were compiled with
# -fsanitize=fuzzer-no-link (see fuzz below).
$(BUILD)/fuzzers/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB_server) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-unused-function -fsanitize=fuzzer $< $(LIB_server) $(LIBS) -o $@

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzzers/fuzz_%)

unit-bins: $(UNIT_BIN)

deps:
	@sh tests/deps.sh build

deps-test:
	@sh tests/deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/tarn server

unit: all unit-bins
	@BUILD=$(BUILD) sh tests/run.sh unit

integration: all
	@BUILD=$(BUILD) sh tests/run.sh integration

test: deps-test
	@$(MAKE) --no-print-directory all unit-bins
	@BUILD=$(BUILD) sh tests/run.sh all

check: deps-test
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 OPT=-O1 all unit-bins
	@BUILD=build/asan TARN_SANITIZED=1 sh tests/run.sh all

bench: deps-test
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@BUILD=$(BUILD) sh tests/bench/run.sh

# FUZZ_SECONDS=60 per target; FUZZ_TARGETS="auth xml" for a subset.
fuzz:
	@sh tests/deps.sh test
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=$(FUZZ_CC) OPT=-O1 \
	    CFLAGS="$(FUZZ_CFLAGS)" fuzz-bins
	@FUZZ_BUILD=build/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_TARGETS)

# The replays built with clang's ASan+UBSan, as the fuzzers are (gcc's
# UBSan, which make check uses, misses some of clang's checks).
fuzz-smoke:
	@$(MAKE) --no-print-directory BUILD=build/fuzz-smoke CC=$(FUZZ_CC) SANITIZE=1 OPT=-O1 \
	    $(FUZZ_NAMES:%=build/fuzz-smoke/tests/unit/fuzz/replay_%)
	@failed=0; for t in $(FUZZ_NAMES); do \
	    UBSAN_OPTIONS=print_stacktrace=1 build/fuzz-smoke/tests/unit/fuzz/replay_$$t || \
	        { echo "FAIL fuzz-smoke $$t"; failed=1; }; \
	done; exit $$failed

noopt:
	@$(MAKE) --no-print-directory BUILD=build/noopt OPT=-O0 all

format:
	clang-format -i $(LIB_SRC) server/main.c $(HEADERS) $(UNIT_SRC)

clean:
	rm -rf build

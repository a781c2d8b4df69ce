# twine: build, test, install.
# Sources are found by wildcard, so adding a file to a layer needs no edit here.
#   make [BACKEND=epoll|kqueue|poll|select]   libtwine.a, libtwine.so, twined
#   make test | test-all | sanitize | tsan | docs-check | docs | layer-check | static-check | bench
#   make bench-report
#   make install PREFIX=/usr/local | clean

UNAME     := $(shell uname -s)
ifeq ($(UNAME),Linux)
DEFAULT_BACKEND := epoll
else
DEFAULT_BACKEND := kqueue
endif
BACKEND   ?= $(DEFAULT_BACKEND)
BACKENDS  := epoll kqueue poll select
ifeq ($(filter $(BACKEND),$(BACKENDS)),)
$(error BACKEND must be one of: $(BACKENDS))
endif

VERSION   := 0.1.0
SOVERSION := 0
PREFIX    ?= /usr/local

CC        ?= cc
BUILDROOT ?= build
OUT       := $(BUILDROOT)/$(BACKEND)
WARN      := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes
OPT       ?= -O2 -g
CFLAGS    += -std=c11 $(OPT) $(WARN) -D_GNU_SOURCE -fPIC -fvisibility=hidden
CPPFLAGS  += -Iinclude -I. -MMD -MP
CFLAGS    += $(EXTRA_CFLAGS)
LDFLAGS   += $(EXTRA_LDFLAGS)
LIBS      := -lpthread -lresolv -lm

# Library: every layer, and exactly one backend.
LAYERS        := reactor deferred transport endpoints protocols
ALL_BACKEND_C := $(wildcard reactor/backend_*.c)
LIB_SRCS      := $(filter-out $(ALL_BACKEND_C),$(foreach l,$(LAYERS),$(wildcard $(l)/*.c $(l)/*/*.c))) \
                 reactor/backend_$(BACKEND).c

# Linux has no kqueue: the kqueue backend runs on twine's emulation of it (tests/support/kqueue).
ifeq ($(BACKEND)-$(UNAME),kqueue-Linux)
LIB_SRCS  += $(wildcard tests/support/kqueue/*.c)
CPPFLAGS  += -Itests/support/kqueue
endif

LIB_OBJS  := $(LIB_SRCS:%.c=$(OUT)/obj/%.o)
STATIC    := $(OUT)/libtwine.a
SHARED    := $(OUT)/libtwine.so.$(VERSION)

# Tests: tests/test_*.c, each its own cmocka binary, linked with tests/support/*.c.
TEST_SRCS    := $(wildcard tests/test_*.c)
TEST_BINS    := $(TEST_SRCS:tests/%.c=$(OUT)/tests/%)
SUPPORT_OBJS := $(patsubst %.c,$(OUT)/obj/%.o,$(wildcard tests/support/*.c))

# twined: cli/*.c
CLI_OBJS  := $(patsubst %.c,$(OUT)/obj/%.o,$(wildcard cli/*.c))
TWINED    := $(OUT)/twined

# Examples: examples/*.c, built as a user builds them (see below).
EXAMPLE_BINS := $(patsubst examples/%.c,$(OUT)/examples/%,$(wildcard examples/*.c))

.SECONDARY:
.PHONY: all lib test test-all sanitize tsan bench bench-report fuzz install install-check static-check
.PHONY: uninstall clean examples docs docs-check layer-check FORCE
.DEFAULT_GOAL := all

all: lib $(if $(CLI_OBJS),$(BUILDROOT)/twined) examples
lib: $(BUILDROOT)/libtwine.a $(BUILDROOT)/libtwine.so
examples: $(EXAMPLE_BINS)

# build/libtwine.* always hold the most recently built backend; build/BACKEND/ keeps each one.
$(BUILDROOT)/libtwine.a: $(STATIC) FORCE
	@cmp -s $< $@ || cp $< $@
$(BUILDROOT)/libtwine.so: $(SHARED) FORCE
	@cmp -s $< $(BUILDROOT)/libtwine.so.$(VERSION) || cp $< $(BUILDROOT)/libtwine.so.$(VERSION)
	@ln -sf libtwine.so.$(VERSION) $(BUILDROOT)/libtwine.so.$(SOVERSION)
	@ln -sf libtwine.so.$(SOVERSION) $@
$(BUILDROOT)/twined: $(TWINED) FORCE
	@cmp -s $< $@ || cp $< $@

$(STATIC): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^
$(SHARED): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libtwine.so.$(SOVERSION) $(LDFLAGS) -o $@ $^ $(LIBS)

$(OUT)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# VERSION is the source of truth: reactor/version.c refuses to build if include/twine/version.h
# says otherwise, and tests/test_version.c checks the library against it.
VERSION_WORDS := $(subst ., ,$(VERSION))
VERSION_DEFS  := -DTW_BUILD_VERSION='"$(VERSION)"' -DTW_BUILD_VERSION_MAJOR=$(word 1,$(VERSION_WORDS)) \
                 -DTW_BUILD_VERSION_MINOR=$(word 2,$(VERSION_WORDS)) \
                 -DTW_BUILD_VERSION_PATCH=$(word 3,$(VERSION_WORDS))
$(OUT)/obj/reactor/version.o $(OUT)/obj/tests/test_version.o: CPPFLAGS += $(VERSION_DEFS)
$(OUT)/obj/reactor/version.o $(OUT)/obj/tests/test_version.o: Makefile

$(TWINED): $(CLI_OBJS) $(STATIC)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(STATIC) $(LIBS)

# Tests count or hook some syscalls, and make some fail, through the linker
# (tests/support/syscalls.c).
TEST_WRAP := -Wl,--wrap=accept4 -Wl,--wrap=listen -Wl,--wrap=send -Wl,--wrap=sendmsg \
             -Wl,--wrap=getaddrinfo -Wl,--wrap=getnameinfo
ifeq ($(UNAME),Linux)
TEST_WRAP += -Wl,--wrap=epoll_ctl -Wl,--wrap=realloc -Wl,--wrap=sendfile
endif
$(OUT)/tests/%: $(OUT)/obj/tests/%.o $(SUPPORT_OBJS) $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(TEST_WRAP) -o $@ $< $(SUPPORT_OBJS) $(STATIC) -lcmocka $(LIBS)

# Examples are built against twine installed into a scratch prefix, through pkg-config, as a user's
# program is (public headers only, no -D_GNU_SOURCE): proof that the installed files suffice.
STAGE          := $(abspath $(OUT))/stage
STAGE_PC       := $(STAGE)/lib/pkgconfig/twine.pc
EXAMPLE_CFLAGS := -std=c11 $(OPT) $(WARN) $(EXTRA_CFLAGS)
PKG_STAGE      := PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config
$(STAGE_PC): $(STATIC) $(SHARED) $(wildcard include/twine/*.h) twine.pc.in docs/twined.1 \
             $(if $(CLI_OBJS),$(TWINED)) Makefile
	@rm -rf $(STAGE)
	@$(call install_to,$(STAGE),$(STAGE))
$(OUT)/examples/%: examples/%.c $(STAGE_PC)
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) $$($(PKG_STAGE) --cflags twine) -o $@ $< $(LDFLAGS) \
	  $$($(PKG_STAGE) --libs twine) -Wl,-rpath,$(STAGE)/lib

# Docs are code: every public header compiles alone, and the C samples of README.md and docs/
# compile with the project's flags against this build and run (tests/doc_samples.sh says how).
DOCS_CHECK := python3 docs/tools/reference.py --check && python3 bench/lib/report.py --check && \
  CC="$(CC)" tests/header_check.sh && \
  CC="$(CC)" CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)" LIBS="$(LIBS)" TWINE_LIB=$(STATIC) \
  SAMPLE_DIR=$(OUT)/doc_samples tests/doc_samples.sh
docs-check: $(STATIC)
	@$(DOCS_CHECK)

# The layer rule: no file includes, and no object uses, what a higher layer holds
# (tests/layer_check.sh).
LAYER_CHECK := CC="$(CC)" OBJ_DIR=$(OUT)/obj tests/layer_check.sh
layer-check: $(STATIC) $(CLI_OBJS)
	@$(LAYER_CHECK)

# docs/reference/: one page per public header, made from the header's own comments.
docs:
	python3 docs/tools/reference.py

# Run every test binary, the docs check, the layer check and the manual's check; report all
# failures, fail if any failed. A binary that hangs is killed.
TEST_TIMEOUT ?= 120
test: $(TEST_BINS) $(if $(CLI_OBJS),$(TWINED)) examples
	@echo "== twine tests, backend $(BACKEND) =="
	@failed=""; for t in $(TEST_BINS); do \
	  TWINE_BUILD=$(OUT) timeout $(TEST_TIMEOUT) $$t || failed="$$failed $$(basename $$t)"; done; \
	( $(DOCS_CHECK) ) || failed="$$failed docs-check"; \
	$(LAYER_CHECK) || failed="$$failed layer-check"; \
	TWINE_BUILD=$(OUT) tests/man_check.sh || failed="$$failed man-check"; \
	if [ -n "$$failed" ]; then echo "FAILED ($(BACKEND)):$$failed"; exit 1; fi; \
	echo "== all tests passed, backend $(BACKEND) =="

test-all:
	@set -e; for b in $(BACKENDS); do $(MAKE) --no-print-directory BACKEND=$$b test; done

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
sanitize:
	@$(MAKE) --no-print-directory BUILDROOT=$(BUILDROOT)/sanitize OPT="-O1 -g" \
	  EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 test

# ThreadSanitizer over the whole suite (races between the reactor, its pool, callers of
# call_from_thread and signal handlers). A report makes the binary exit non-zero.
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
tsan:
	@$(MAKE) --no-print-directory BUILDROOT=$(BUILDROOT)/tsan OPT="-O1 -g" \
	  EXTRA_CFLAGS="$(TSAN_FLAGS)" EXTRA_LDFLAGS="$(TSAN_FLAGS)" \
	  TSAN_OPTIONS="second_deadlock_stack=1" test

# libFuzzer targets for the parsers (clang, with libclang-rt): each runs FUZZ_SECONDS on its corpus.
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -g -O1 -std=c11 -D_GNU_SOURCE -Iinclude -I. \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_OUT     := $(BUILDROOT)/fuzz
fuzz: lib
	@mkdir -p $(FUZZ_OUT)/corpus_framing $(FUZZ_OUT)/corpus_strports $(FUZZ_OUT)/corpus_dns \
	  $(FUZZ_OUT)/corpus_http
	$(FUZZ_CC) $(FUZZ_FLAGS) fuzz/fuzz_framing.c tests/support/framing_feed.c \
	  protocols/line_receiver.c protocols/netstring.c protocols/intn_receiver.c protocols/framing.c \
	  $(STATIC) $(LIBS) -o $(FUZZ_OUT)/fuzz_framing
	$(FUZZ_CC) $(FUZZ_FLAGS) fuzz/fuzz_strports.c $(wildcard endpoints/strports*.c) $(STATIC) $(LIBS) \
	  -o $(FUZZ_OUT)/fuzz_strports
	$(FUZZ_CC) $(FUZZ_FLAGS) fuzz/fuzz_dns.c $(wildcard protocols/dns/*.c) $(STATIC) $(LIBS) \
	  -o $(FUZZ_OUT)/fuzz_dns
	$(FUZZ_CC) $(FUZZ_FLAGS) fuzz/fuzz_http.c tests/support/framing_feed.c tests/support/http_feed.c \
	  $(wildcard protocols/http/*.c) $(STATIC) $(LIBS) -o $(FUZZ_OUT)/fuzz_http
	$(FUZZ_OUT)/fuzz_framing -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(FUZZ_OUT)/corpus_framing
	$(FUZZ_OUT)/fuzz_strports -max_total_time=$(FUZZ_SECONDS) -max_len=2048 $(FUZZ_OUT)/corpus_strports
	$(FUZZ_OUT)/fuzz_dns -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  $(FUZZ_OUT)/corpus_dns fuzz/corpus/dns
	$(FUZZ_OUT)/fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=48000 $(FUZZ_OUT)/corpus_http \
	  fuzz/corpus/http

# Runs the benchmarks, keeps their results as bench/NAME/figures.txt and remakes
# docs/benchmarks.md and docs/benchmarks.svg from them; bench-report remakes the page alone.
bench: lib
	@$(MAKE) --no-print-directory -C bench BACKEND=$(BACKEND) TWINE_BUILD=$(abspath $(OUT))
bench-report:
	python3 bench/lib/report.py

# install_to DIR,PREFIX: the libraries, headers, twine.pc (naming PREFIX), twined and its manual
# page, into DIR (DESTDIR + PREFIX). One shell command, so that a caller can silence it with @.
install_to = install -d $(1)/lib/pkgconfig $(1)/include/twine $(1)/share/man/man1 && \
  install -m 644 include/twine/*.h $(1)/include/twine/ && \
  install -m 644 $(STATIC) $(1)/lib/libtwine.a && \
  install -m 755 $(SHARED) $(1)/lib/libtwine.so.$(VERSION) && \
  ln -sf libtwine.so.$(VERSION) $(1)/lib/libtwine.so.$(SOVERSION) && \
  ln -sf libtwine.so.$(SOVERSION) $(1)/lib/libtwine.so && \
  sed -e 's|@PREFIX@|$(2)|' -e 's|@VERSION@|$(VERSION)|' twine.pc.in > $(1)/lib/pkgconfig/twine.pc && \
  install -m 644 docs/twined.1 $(1)/share/man/man1/twined.1 \
  $(if $(CLI_OBJS),&& install -d $(1)/bin && install -m 755 $(TWINED) $(1)/bin/twined)

install: lib $(if $(CLI_OBJS),$(TWINED))
	$(call install_to,$(DESTDIR)$(PREFIX),$(PREFIX))

# Installs into a scratch prefix and builds a program against it with pkg-config.
install-check: lib
	@tests/install_check.sh

# A program that listens links statically without glibc's warning about NSS functions
# (getaddrinfo and the like): only a resolver may call them, never the transports.
static-check: $(OUT)/obj/examples/echo_server.o $(STATIC)
	@out=$$($(CC) -static -o $(OUT)/echo_server-static $< $(STATIC) $(LIBS) 2>&1); \
	if echo "$$out" | grep -q 'statically linked applications'; then \
	  echo "$$out"; echo "static-check: a static link warns about NSS"; exit 1; fi; \
	echo "static-check: echo_server links statically without NSS warnings"

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/twine $(DESTDIR)$(PREFIX)/lib/libtwine.* \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/twine.pc $(DESTDIR)$(PREFIX)/bin/twined \
	  $(DESTDIR)$(PREFIX)/share/man/man1/twined.1

clean:
	rm -rf $(BUILDROOT)

FORCE:

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)

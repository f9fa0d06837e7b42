# gcrt: a garbage-collected heap for C. `make` builds build/libgcrt.{a,so} and build/gcrt.pc.
# Targets: all demo test bench install clean deps test-asan test-ubsan soak soak-asan
CC       ?= cc
PREFIX   ?= /usr/local
BUILD    ?= build
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wno-unused-parameter
ALLCFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread -fPIC -fvisibility=hidden -I. $(EXTRA_CFLAGS)
LIBS     := -pthread -lunwind -ldl -lz -lm
DEPS_PKGS := libatomic-ops-dev libunwind-dev pkg-config libgc-dev zlib1g-dev libdw-dev
# Packages that only some targets need; each target names its own with $(call need-pkgs,...).
TEST_PKGS  := redis-tools bc gdb golang-1.19-go python3 python3-matplotlib
REPEAT_PKGS := stress-ng
BENCH_PKGS := redis-server redis-tools golang-1.19-go libmimalloc-dev
# t_timeline_viewer (make test): Chromium for its bundled DevTools, and playwright-core from npm.
VIEWER_PKGS := chromium nodejs
PLAYWRIGHT := playwright-core@1.65.1

SRCS := $(wildcard alloc/*.c gc/*.c runtime/*.c)
OBJS := $(SRCS:%.c=$(BUILD)/obj/%.o)
HDRS := gcrt.h internal.h
# Tests: test/*.c compiled, test/t_*.sh copied; every executable in $(BUILD)/test is a test.
# Fragments (examples/*/*.mk, test/*/*.mk) add their own programs to TESTS and to all.
TESTS := $(patsubst test/%.c,$(BUILD)/test/%,$(wildcard test/*.c)) \
         $(patsubst test/%.sh,$(BUILD)/test/%,$(wildcard test/t_*.sh))
TESTCFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread -I. $(EXTRA_CFLAGS)

.PHONY: all demo test bench install clean deps check-deps check-test-deps check-bench-deps check-viewer-deps test-asan test-ubsan examples test-timeline-viewer
all: check-deps $(BUILD)/libgcrt.a $(BUILD)/libgcrt.so $(BUILD)/gcrt.pc examples extras

# Debian packages: installed with apt-get when run as root, otherwise the command is printed.
need-pkgs = missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || exit 1; \
	  else echo "gcrt needs Debian packages:$$missing"; echo "run: sudo apt-get install -y$$missing"; exit 1; fi; fi
check-deps:
	@$(call need-pkgs,$(DEPS_PKGS))
check-test-deps:
	@$(call need-pkgs,$(TEST_PKGS))
check-bench-deps:
	@$(call need-pkgs,$(BENCH_PKGS))
check-viewer-deps:
	@$(call need-pkgs,$(VIEWER_PKGS))
	@[ -d $(BUILD)/npm/node_modules/playwright-core ] || npm install --silent --no-audit --no-fund --prefix $(BUILD)/npm $(PLAYWRIGHT)
deps: check-deps check-test-deps check-bench-deps

$(BUILD)/obj/%.o: %.c $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(BUILD)/libgcrt.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libgcrt.so: $(OBJS)
	$(CC) -shared -o $@ $^ $(LIBS) -Wl,-soname,libgcrt.so

$(BUILD)/gcrt.pc: Makefile
	@mkdir -p $(BUILD)
	@printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: gcrt\nDescription: garbage-collected heap for C, modelled on the Go runtime\nVersion: 0.1.0\nCflags: -I$${includedir} -pthread\nLibs: -L$${libdir} -Wl,-rpath,$${libdir} -lgcrt\nLibs.private: %s\n' \
	  "$(abspath .)" "$(abspath $(BUILD))" "$(abspath .)" "$(LIBS)" > $@

EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c $(BUILD)/libgcrt.a gcrt.h
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) $< -o $@ $(BUILD)/libgcrt.a $(LIBS)

# The C demo, then the Scheme interpreter on binary-trees with gctrace and a summary.
demo: all
	$(BUILD)/examples/demo
	@sh examples/scheme/demo.sh $(BUILD)

# Each test is its own process (the heap is global); test/run.sh prints "N passed, N failed".
$(BUILD)/test/%: test/%.c $(BUILD)/libgcrt.a $(HDRS) test/check.h test/memprofile.h
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) $< -o $@ $(BUILD)/libgcrt.a $(LIBS) -lm
$(BUILD)/test/%: test/%.sh
	@mkdir -p $(dir $@)
	cp $< $@ && chmod +x $@
test: all check-test-deps check-viewer-deps $(TESTS)
	@GCRT_BUILD=$(abspath $(BUILD)) sh test/run.sh $(BUILD)/test

# A GODEBUG=gctracefile timeline in a real viewer (test/t_timeline_viewer.sh), alone.
test-timeline-viewer: all check-viewer-deps $(BUILD)/test/t_timeline_viewer
	@GCRT_BUILD=$(abspath $(BUILD)) sh $(BUILD)/test/t_timeline_viewer

# The whole suite N times quiet, then N times with a CPU hog on every core; the summary is
# $(BUILD)/test-repeat/summary.txt (docs/testing.md).
N ?= 20
test-repeat: all check-test-deps check-viewer-deps $(TESTS)
	@$(call need-pkgs,$(REPEAT_PKGS))
	@sh test/repeat.sh $(N) $(BUILD)

test-asan:
	LSAN_OPTIONS=suppressions=$(abspath test/lsan.supp) ASAN_OPTIONS=detect_stack_use_after_return=0 $(MAKE) BUILD=build-asan EXTRA_CFLAGS="-fsanitize=address -fno-omit-frame-pointer -DGCRT_ASAN" \
	  LIBS="-pthread -lunwind -ldl -lz -lm -fsanitize=address" test
test-ubsan:
	$(MAKE) BUILD=build-ubsan EXTRA_CFLAGS="-fsanitize=undefined -fno-sanitize-recover=undefined" \
	  LIBS="-pthread -lunwind -ldl -lz -lm -fsanitize=undefined" test

# Each subproject's build fragment (examples/scheme/scheme.mk, test/stress/stress.mk, ...).
EXTRAS :=
include $(wildcard examples/*/*.mk test/*/*.mk compat/*.mk)
.PHONY: extras
extras: $(EXTRAS)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 gcrt.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libgcrt.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libgcrt.so $(DESTDIR)$(PREFIX)/lib/
	@printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: gcrt\nDescription: garbage-collected heap for C, modelled on the Go runtime\nVersion: 0.1.0\nCflags: -I$${includedir} -pthread\nLibs: -L$${libdir} -Wl,-rpath,$${libdir} -lgcrt\nLibs.private: %s\n' \
	  "$(PREFIX)" "$(LIBS)" > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gcrt.pc

clean:
	rm -rf build build-asan build-ubsan build-valgrind build-tsan build-fuzz

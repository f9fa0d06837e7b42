# compat/compat.mk: the bdwgc-compatible library (issue 19), included by the top-level Makefile.
#   build/libgcrt-bdwgc.so   gcrt plus bdwgc 8.2's API (compat/include/gc.h, gc_typed.h)
#   build/gcrt-bdwgc.pc      pkg-config name gcrt-bdwgc (Debian's bdwgc is bdw-gc)
#   build/test/t_bdw_*       the compatibility tests (test/compat/), run by make test
#   build/bench/*_shim       GCBench and binary-trees against compat/include/gc.h (make bench)
# docs/bdwgc.md is the migration guide.

COMPAT_SRCS := compat/bdwgc.c compat/finalize.c compat/typed.c compat/misc.c compat/kinds.c compat/unsupported.c
COMPAT_OBJS := $(COMPAT_SRCS:%.c=$(BUILD)/obj/%.o)
COMPAT_HDRS := compat/bdwgc.h compat/include/gc.h compat/include/gc_typed.h compat/include/gc_mark.h
COMPAT_INC  := -Icompat/include

$(BUILD)/obj/compat/%.o: compat/%.c $(HDRS) $(COMPAT_HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

# -Bsymbolic-functions: calls between gcrt's own functions stay inside the library (no
# PLT hop per allocation), and a preloaded copy cannot be half-interposed by libgc.so.1.
$(BUILD)/libgcrt-bdwgc.so: $(OBJS) $(COMPAT_OBJS)
	$(CC) -shared -o $@ $^ $(LIBS) -Wl,-soname,libgcrt-bdwgc.so -Wl,-Bsymbolic-functions

$(BUILD)/gcrt-bdwgc.pc: compat/compat.mk
	@mkdir -p $(BUILD)
	@printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: gcrt-bdwgc\nDescription: bdwgc 8.2-compatible API (gc.h) on gcrt\nVersion: 0.1.0\nCflags: -I$${includedir} -pthread\nLibs: -L$${libdir} -Wl,-rpath,$${libdir} -lgcrt-bdwgc\n' \
	  "$(abspath .)" "$(abspath $(BUILD))" "$(abspath compat/include)" > $@

EXTRAS += $(BUILD)/libgcrt-bdwgc.so $(BUILD)/gcrt-bdwgc.pc

# Tests: C programs written against gc.h only (plus test/check.h's helpers), and scripts.
BDW_TESTS := $(patsubst test/compat/%.c,$(BUILD)/test/%,$(wildcard test/compat/t_bdw_*.c)) \
             $(patsubst test/compat/%.sh,$(BUILD)/test/%,$(wildcard test/compat/t_bdw_*.sh))
TESTS += $(BDW_TESTS)
EXTRAS += $(BDW_TESTS)
TEST_PKGS += w3m ecl guile-3.0
$(BUILD)/test/t_bdw_%: test/compat/t_bdw_%.c $(BUILD)/libgcrt-bdwgc.so $(COMPAT_HDRS) test/check.h
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) $(COMPAT_INC) $< -o $@ -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lgcrt-bdwgc -lm
$(BUILD)/test/t_bdw_%: test/compat/t_bdw_%.sh $(BUILD)/test/bdw_preload.sh
	@mkdir -p $(dir $@)
	cp $< $@ && chmod +x $@
$(BUILD)/test/bdw_preload.sh: test/compat/bdw_preload.sh
	@mkdir -p $(dir $@)
	cp $< $@

# Benchmarks: the bdwgc sources (-DUSE_BDWGC) built against the shim's gc.h, and run.
BENCH_SHIM_BINS := $(addprefix $(BUILD)/bench/,gcbench_shim binarytrees_shim)
$(BUILD)/bench/%_shim: test/bench/%.c test/bench/bench.h $(BUILD)/libgcrt-bdwgc.so $(COMPAT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(COMPAT_INC) -DUSE_BDWGC $< -o $@ -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lgcrt-bdwgc -pthread
.PHONY: bench-bdwgc install-bdwgc
bench-bdwgc: $(BENCH_SHIM_BINS) $(BUILD)/bench/gcbench_bdwgc $(BUILD)/bench/binarytrees_bdwgc $(BUILD)/libgcrt-bdwgc.so
	@sh test/bench/run-bdwgc.sh $(BUILD)
bench: bench-bdwgc

install: install-bdwgc
install-bdwgc: $(BUILD)/libgcrt-bdwgc.so
	install -d $(DESTDIR)$(PREFIX)/include/gcrt/gc $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 compat/include/gc.h compat/include/gc_typed.h compat/include/gc_mark.h $(DESTDIR)$(PREFIX)/include/gcrt/
	install -m 644 compat/include/gc/gc.h compat/include/gc/gc_typed.h compat/include/gc/gc_mark.h $(DESTDIR)$(PREFIX)/include/gcrt/gc/
	install -m 755 $(BUILD)/libgcrt-bdwgc.so $(DESTDIR)$(PREFIX)/lib/
	@printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include/gcrt\n\nName: gcrt-bdwgc\nDescription: bdwgc 8.2-compatible API (gc.h) on gcrt\nVersion: 0.1.0\nCflags: -I$${includedir} -pthread\nLibs: -L$${libdir} -Wl,-rpath,$${libdir} -lgcrt-bdwgc\n' \
	  "$(PREFIX)" > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gcrt-bdwgc.pc

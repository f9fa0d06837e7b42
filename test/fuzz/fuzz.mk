# test/fuzz/fuzz.mk: libFuzzer targets (reliab).
#   make fuzz   builds the library and the targets with clang -fsanitize=fuzzer,address,
#               undefined in build-fuzz/ and runs each target for FUZZ_SECONDS (default 60),
#               starting from test/fuzz/corpus/<target>/. Crashing inputs land in
#               build-fuzz/fuzz/artifacts/; copy them into test/fuzz/corpus/<target>/ to make
#               them regression tests.
#   make test   replays test/fuzz/corpus/ with the targets built as plain programs
#               (-DFUZZ_REPLAY; test t_fuzz_corpus).
FUZZ_TARGETS := fuzz_env fuzz_api
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined

$(BUILD)/fuzz/%_replay: test/fuzz/%.c test/fuzz/replay.h $(BUILD)/libgcrt.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) -DFUZZ_REPLAY $< -o $@ $(BUILD)/libgcrt.a $(LIBS)
$(BUILD)/fuzz/corpus.stamp: $(wildcard test/fuzz/corpus/*/*)
	@mkdir -p $(dir $@)
	rm -rf $(BUILD)/fuzz/corpus && cp -r test/fuzz/corpus $(BUILD)/fuzz/corpus && touch $@
EXTRAS += $(addprefix $(BUILD)/fuzz/,$(addsuffix _replay,$(FUZZ_TARGETS))) $(BUILD)/fuzz/corpus.stamp

.PHONY: fuzz fuzz-build
fuzz-build:
	@$(call need-pkgs,clang)
	$(MAKE) CC=clang BUILD=build-fuzz EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link -DGCRT_ASAN" \
	  LIBS="-pthread -lunwind -ldl -lz -lm $(FUZZ_SAN)" build-fuzz/libgcrt.a
	@mkdir -p build-fuzz/fuzz/artifacts
	for t in $(FUZZ_TARGETS); do \
	  clang -std=gnu11 -O1 -g -I. $(FUZZ_SAN) -fsanitize=fuzzer test/fuzz/$$t.c -o build-fuzz/fuzz/$$t \
	    build-fuzz/libgcrt.a -pthread -lunwind -ldl -lz -lm || exit 1; done
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/fuzz/corpus-$$t; \
	  echo "== $$t for $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_stack_use_after_return=0:detect_leaks=0 build-fuzz/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=30 -rss_limit_mb=4096 -artifact_prefix=build-fuzz/fuzz/artifacts/$$t- -print_final_stats=1 \
	    build-fuzz/fuzz/corpus-$$t test/fuzz/corpus/$${t#fuzz_} 2>&1 | grep -v '^gcrt: GODEBUG' | tail -25 \
	    || exit 1; \
	done

# test/soak/soak.mk: the kvcache soak (issue 17 items 4-5; docs/soak.md).
#   make soak [SOAK_SECONDS=600]    build/kvcache under GOMEMLIMIT=64MiB for SOAK_SECONDS
#                                   (default 600) with load, the checker, the PING prober,
#                                   the sampler and hostile clients; then a second phase of
#                                   SOAK_FAULT_SECONDS (default 120) with GCRT_FAULT_MMAP=4:SEED.
#                                   Output: build/soak/plain/ and build/soak/faults/.
#   make soak-asan [SOAK_SECONDS=N] the same with the ASan build of kvcache (build-asan/),
#                                   120 s by default, faults included; output build/soak/asan/.
# Each phase prints its summary and fails on a lost write, a missed PING, a server that
# died or a hostile client not answered as it should be. t_soak_quick is the 20 s version
# in make test.
SOAK_SECONDS ?= 600
SOAK_FAULT_SECONDS ?= 120
SOAK_SEED ?= 1
SOAK_ASAN_SECONDS := $(if $(filter command line environment,$(origin SOAK_SECONDS)),$(SOAK_SECONDS),120)
ASAN_CFLAGS := -fsanitize=address -fno-omit-frame-pointer -DGCRT_ASAN
ASAN_LIBS := $(LIBS) -fsanitize=address
.PHONY: soak soak-asan
soak: all check-test-deps
	python3 test/soak/soak.py run --server $(BUILD)/kvcache --seconds $(SOAK_SECONDS) --seed $(SOAK_SEED) \
	  --out $(BUILD)/soak/plain
	python3 test/soak/soak.py run --server $(BUILD)/kvcache --seconds $(SOAK_FAULT_SECONDS) --seed $(SOAK_SEED) \
	  --faults 4:$(SOAK_SEED) --out $(BUILD)/soak/faults
soak-asan: check-test-deps
	$(MAKE) BUILD=build-asan EXTRA_CFLAGS="$(ASAN_CFLAGS)" LIBS="$(ASAN_LIBS)" build-asan/kvcache
	python3 test/soak/soak.py run --server build-asan/kvcache --asan --seconds $(SOAK_ASAN_SECONDS) \
	  --seed $(SOAK_SEED) --faults 4:$(SOAK_SEED) --out $(BUILD)/soak/asan

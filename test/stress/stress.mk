# test/stress/stress.mk: randomized stress programs (reliab).
#   make stress   runs test/stress/run.sh: every configuration (GOGC 5/100 x GOMEMLIMIT
#                 off/on, varying threads) under GODEBUG=gccheckmark=1,gcverify=1,gcpoison=1
#                 for STRESS_SECONDS in total (default 600); each run prints its seed
#                 (replay: STRESS_SEED=<seed> with the same configuration).
# The finalizer, weak and pool parts are compiled in when the library's sources implement
# them (lifetime and pool branches).
stress_lp := (
STRESS_FEATURES := $(if $(shell grep -l 'gc_set_finalizer$(stress_lp)' $(SRCS)),-DHAVE_FINALIZERS) \
                   $(if $(shell grep -l 'gc_weak_make$(stress_lp)' $(SRCS)),-DHAVE_WEAK) \
                   $(if $(shell grep -l 'gc_pool_new$(stress_lp)' $(SRCS)),-DHAVE_POOL)
$(BUILD)/stress/stress: test/stress/stress.c test/check.h $(BUILD)/libgcrt.a gcrt.h
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) $(STRESS_FEATURES) $< -o $@ $(BUILD)/libgcrt.a $(LIBS)
$(BUILD)/stress/run.sh: test/stress/run.sh
	@mkdir -p $(dir $@)
	cp $< $@
EXTRAS += $(BUILD)/stress/stress $(BUILD)/stress/run.sh
.PHONY: stress
STRESS_SECONDS ?= 600
stress: all $(BUILD)/stress/stress
	STRESS_SECONDS=$(STRESS_SECONDS) sh test/stress/run.sh $(BUILD)/stress/stress
# make stress-reap: reaping a gcrt program killed beside a CPU hog per core (reap.c).
$(BUILD)/stress/reap: test/stress/reap.c $(BUILD)/libgcrt.a gcrt.h
	@mkdir -p $(dir $@)
	$(CC) $(TESTCFLAGS) $< -o $@ $(BUILD)/libgcrt.a $(LIBS)
EXTRAS += $(BUILD)/stress/reap
.PHONY: stress-reap
stress-reap: all $(BUILD)/stress/reap
	$(BUILD)/stress/reap

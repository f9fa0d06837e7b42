# test/sanitize/sanitize.mk: `make test-valgrind` and `make test-tsan` (reliab).
#   test-valgrind  every test under memcheck (build-valgrind/, -DGCRT_VALGRIND: GC memory
#                  states and conservative scans are told to memcheck by client requests);
#                  GCRT_UNDER_VALGRIND=1 lets heavy tests shrink; GOMAXPROCS=1.
#   test-tsan      every test built with ThreadSanitizer (clang, build-tsan/); see
#                  docs/architecture.md "Checking the collector" for what it cannot check.
.PHONY: test-valgrind test-tsan
VALGRIND_TIMEOUT ?= 1200
test-valgrind:
	@$(call need-pkgs,valgrind)
	$(MAKE) BUILD=build-valgrind EXTRA_CFLAGS="-DGCRT_VALGRIND" all $(subst $(BUILD)/,build-valgrind/,$(TESTS))
	GCRT_BUILD=$(abspath build-valgrind) GCRT_UNDER_VALGRIND=1 GOMAXPROCS=1 GCRT_TEST_TIMEOUT=$(VALGRIND_TIMEOUT) \
	  GCRT_TEST_WRAP=$(abspath test/sanitize/vg-run.sh) sh test/run.sh build-valgrind/test

test-tsan:
	TSAN_OPTIONS="report_signal_unsafe=0 $(TSAN_OPTIONS)" $(MAKE) CC=clang BUILD=build-tsan \
	  EXTRA_CFLAGS="-fsanitize=thread" LIBS="-pthread -lunwind -ldl -lz -lm -fsanitize=thread" test

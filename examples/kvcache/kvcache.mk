# examples/kvcache/kvcache.mk: build/kvcache, the Redis-protocol cache (included by the Makefile).
KVCACHE_SRCS := $(wildcard examples/kvcache/*.c)
$(BUILD)/kvcache: $(KVCACHE_SRCS) examples/kvcache/kvcache.h $(BUILD)/libgcrt.a gcrt.h
	$(CC) $(TESTCFLAGS) $(KVCACHE_SRCS) -o $@ $(BUILD)/libgcrt.a $(LIBS)
EXTRAS += $(BUILD)/kvcache

# examples/scheme/scheme.mk: the Scheme interpreter on gcrt (build/scheme) and the same
# interpreter on bdwgc (build/scheme-bdwgc, -DSCHEME_BDWGC), plus its test script.
SCHEME_SRCS := $(wildcard examples/scheme/*.c)
SCHEME_HDRS := $(wildcard examples/scheme/*.h)
SCHEME_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread -I. $(EXTRA_CFLAGS)

$(BUILD)/scheme: $(SCHEME_SRCS) $(SCHEME_HDRS) $(BUILD)/libgcrt.a gcrt.h
	$(CC) $(SCHEME_CFLAGS) $(SCHEME_SRCS) -o $@ $(BUILD)/libgcrt.a $(LIBS) -lm

$(BUILD)/scheme-bdwgc: $(SCHEME_SRCS) $(SCHEME_HDRS) | check-deps
	$(CC) $(SCHEME_CFLAGS) -DSCHEME_BDWGC $(SCHEME_SRCS) -o $@ -lgc -pthread -lm

EXTRAS += $(BUILD)/scheme $(BUILD)/scheme-bdwgc

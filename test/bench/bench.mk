# test/bench/bench.mk: benchmark builds, included by the top-level Makefile.
#   make bench        build every benchmark (gcrt, bdwgc, glibc variants) and run test/bench/run.sh
#   make bench-build  build only
#   make bench-peers  build and run only the bdwgc and glibc variants (no libgcrt.a needed)
#   make bench-peers-table  gcrt against bdwgc, glibc malloc, mimalloc and Go 1.19 in one table
#                     (test/bench/run-peers.sh; `make bench` runs it too)
# Binaries go to $(BUILD)/bench/<program>_<impl>. See test/bench/README.md.

BENCH_DIR    := $(BUILD)/bench
BENCH_CFLAGS  = $(TESTCFLAGS) -O2
BENCH_HDR    := test/bench/bench.h

BENCH_GCRT_BINS   := $(addprefix $(BENCH_DIR)/,alloc_gcrt churn_gcrt gcbench_gcrt binarytrees_gcrt markscale_gcrt randgraph_gcrt pause_gcrt barrier_gcrt pool_gcrt memlimit_gcrt weakfinal_gcrt mprof_gcrt timeline_gcrt)
BENCH_PEER_BINS   := $(addprefix $(BENCH_DIR)/,alloc_bdwgc alloc_malloc churn_bdwgc gcbench_bdwgc gcbench_malloc binarytrees_bdwgc binarytrees_malloc markscale_bdwgc pause_bdwgc pool_bdwgc weakfinal_bdwgc sleepfloor_malloc)

# Go 1.19 programs (test/bench/go/, one module): built offline, the cache under build/.
GO ?= /usr/lib/go-1.19/bin/go
BENCH_GO_BINS := $(addprefix $(BENCH_DIR)/go/,gcbench binarytrees alloc pause)
BENCH_GO_SRCS := test/bench/go/go.mod test/bench/go/benchstat/benchstat.go

.PHONY: bench bench-build bench-peers bench-peers-table

# mprof: the frame-pointer walk needs this file's own frames to keep their frame pointer
$(BENCH_DIR)/mprof_gcrt: BENCH_CFLAGS += -fno-omit-frame-pointer

$(BENCH_DIR)/%_gcrt: test/bench/%.c $(BENCH_HDR) $(BUILD)/libgcrt.a gcrt.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -DUSE_GCRT $< -o $@ $(BUILD)/libgcrt.a $(LIBS)

$(BENCH_DIR)/%_bdwgc: test/bench/%.c $(BENCH_HDR) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -DUSE_BDWGC $< -o $@ -lgc -pthread

$(BENCH_DIR)/%_malloc: test/bench/%.c $(BENCH_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -DUSE_MALLOC $< -o $@ -pthread

$(BENCH_DIR)/go/%: test/bench/go/%/main.go $(BENCH_GO_SRCS) | check-bench-deps
	@mkdir -p $(dir $@)
	cd test/bench/go && GOFLAGS=-mod=mod GOPROXY=off GOCACHE=$(abspath $(BENCH_DIR))/go/cache \
	  GOPATH=$(abspath $(BENCH_DIR))/go/path $(GO) build -o $(abspath $@) ./$*

bench-build: $(BENCH_GCRT_BINS) $(BENCH_PEER_BINS) $(BENCH_GO_BINS)

bench: bench-build $(BUILD)/kvcache $(BUILD)/scheme $(BUILD)/scheme-bdwgc check-bench-deps
	@sh test/bench/run.sh $(BENCH_DIR)
	@sh test/bench/run-concurrent.sh $(BENCH_DIR)
	@sh test/bench/run-peers.sh $(BENCH_DIR)
	@sh test/bench/run-pool.sh $(BENCH_DIR)
	@sh test/bench/run-pacer.sh $(BENCH_DIR)
	@sh test/bench/run-kvcache.sh $(BUILD)
	@sh test/bench/run-lifetime.sh $(BENCH_DIR)
	@sh test/bench/run-scheme.sh $(BENCH_DIR)
	@sh test/bench/run-mprof.sh $(BENCH_DIR)
	@sh test/bench/run-timeline.sh $(BENCH_DIR)
	@sh test/bench/run-greentea.sh $(BENCH_DIR) | tee $(BENCH_DIR)/report-greentea.txt

bench-peers: $(BENCH_PEER_BINS)
	@sh test/bench/run.sh $(BENCH_DIR)

bench-peers-table: $(BENCH_GCRT_BINS) $(BENCH_PEER_BINS) $(BENCH_GO_BINS) check-bench-deps
	@sh test/bench/run-peers.sh $(BENCH_DIR)

/*
 * t_pacer_sim: the pacer (gc/pacer.c) and the CPU limiter (gc/limiter.c) as pure functions,
 * fed synthetic cycles. No heap is involved.
 *
 * The model: a live heap L, roots R (stacks + globals), a mutator that allocates `cm` bytes
 * per byte the collector scans in the same CPU time (the true cons/mark ratio), a collector
 * that gets 25% of 2 CPUs while marking. A cycle that starts at heap_live T scans
 * W = L + R and, meanwhile, the mutator allocates 3 * cm * W (75% vs 25% of the CPU), so the
 * heap peaks at T + 3 cm W: the pacer must put T a runway of exactly that below the goal.
 * When Go's bounds keep the trigger later than that (a runway over 30% of the way), assists
 * hold the heap at the goal and their CPU enters the cons/mark measurement. The allocation
 * rate is perturbed by +-4% per cycle (deterministic noise).
 *
 * Phases (each followed by 25+ cycles): steady state; allocation rate x1.8 then back; live heap
 * x4 then /2; GOGC 100 -> 50 -> 400 -> 25; a memory limit that binds (with 8 MiB of
 * non-heap memory), the limit raised and lowered, GOGC=off with a limit, a limit below the
 * live heap. Every cycle asserts the goal formula (GOGC goal = marked + (marked + R) *
 * GOGC/100 floored at 4 MiB * GOGC/100; the limit goal = limit - non-heap - overage less
 * max(3%, 1 MiB)), and that the trigger lies in Go's bounds; from the 25th cycle of each
 * phase on, the heap peak must be within 5% of the goal.
 *
 * The limiter: a death spiral (collector wanting 90% of the CPU) sampled every millisecond;
 * once the bucket has filled, every 1 s window must give the collector at most 55%, and the
 * program keeps at least 40% of the CPU; an idle period banks no credit.
 */
#include "check.h"
#include "internal.h"

#include <math.h>

#define MiB ((uint64_t)1 << 20)
#define R_STACKS (256u << 10)
#define R_GLOBALS (64u << 10)

typedef struct sim {
    gcrt_pacer p;
    uint64_t live;       /* true live heap */
    uint64_t marked;     /* what the last cycle marked */
    double cm;           /* true cons/mark */
    int percent;
    int64_t limit;
    uint64_t nonheap;    /* metadata etc. */
    uint64_t retained;   /* heap pages kept from the last peak */
    unsigned cycle;
    uint32_t rng;
    double worst;        /* worst |peak - goal| / goal after convergence, this phase */
} sim_t;

static double noise(sim_t *s) {
    s->rng = s->rng * 1103515245u + 12345u;
    return ((double)((s->rng >> 8) & 0xffff) / 65535.0 - 0.5) * 0.08;   /* +-4% */
}

static uint64_t expect_gogc_goal(const sim_t *s) {
    if (s->percent < 0) return UINT64_MAX;
    uint64_t g = s->marked + (s->marked + R_STACKS + R_GLOBALS) * (uint64_t)s->percent / 100;
    uint64_t min = 4 * MiB * (uint64_t)s->percent / 100;
    return g < min ? min : g;
}

static uint64_t expect_limit_goal(const sim_t *s, uint64_t mapped, uint64_t heap_free, uint64_t heap_inuse) {
    if (s->limit == INT64_MAX) return UINT64_MAX;
    uint64_t lim = (uint64_t)s->limit;
    uint64_t nonheap = mapped > heap_free + heap_inuse ? mapped - heap_free - heap_inuse : 0;
    uint64_t over = mapped > lim ? mapped - lim : 0;
    if (nonheap + over >= lim) return s->marked;
    uint64_t g = lim - nonheap - over;
    uint64_t head = g / 100 * 3 > MiB ? g / 100 * 3 : MiB;
    g = g < 2 * head ? head : g - head;
    return g > s->marked ? g : s->marked;
}

/* One cycle; returns |peak - goal| / goal. */
static double sim_cycle(sim_t *s, bool converged_check) {
    gcrt_pacer_in in = {
        .percent = s->percent,
        .memory_limit = s->limit,
        .heap_marked = s->marked,
        .stacks = R_STACKS,
        .globals = R_GLOBALS,
        .heap_live = s->marked,
        .heap_inuse = s->marked,
        .stw = 0,
    };
    /* Mapped memory: the pages retained from the last peak, plus non-heap memory. */
    uint64_t heap_pages = s->retained > s->marked ? s->retained : s->marked;
    in.mapped = heap_pages + s->nonheap;
    in.heap_free = heap_pages - s->marked;
    gcrt_pacer_commit(&s->p, &in);

    uint64_t gg = expect_gogc_goal(s), lg = expect_limit_goal(s, in.mapped, in.heap_free, in.heap_live);
    uint64_t goal = gg < lg ? gg : lg;
    CHECK(s->p.gogc_goal == gg, "cycle %u: GOGC goal %llu, want %llu", s->cycle, (unsigned long long)s->p.gogc_goal,
          (unsigned long long)gg);
    CHECK(s->p.limit_goal == lg, "cycle %u: limit goal %llu, want %llu", s->cycle,
          (unsigned long long)s->p.limit_goal, (unsigned long long)lg);
    CHECK(s->p.goal == goal, "cycle %u: goal %llu, want %llu", s->cycle, (unsigned long long)s->p.goal,
          (unsigned long long)goal);
    CHECK(goal != UINT64_MAX, "simulation needs a finite goal");
    uint64_t T = s->p.trigger;
    if (goal > s->marked) {
        uint64_t d = goal - s->marked;
        uint64_t lo = s->marked + d / 64 * 45, hi = s->marked + d / 64 * 61;
        if (goal > 4 * MiB && goal - 4 * MiB > hi) hi = goal - 4 * MiB;
        CHECK(T >= lo && T <= hi, "cycle %u: trigger %llu outside [%llu, %llu]", s->cycle, (unsigned long long)T,
              (unsigned long long)lo, (unsigned long long)hi);
        CHECK(goal - T >= (64u << 10), "cycle %u: runway below 64 KiB", s->cycle);
    } else {
        CHECK(T == goal, "cycle %u: goal at the marked heap, trigger %llu != goal", s->cycle, (unsigned long long)T);
    }

    /* Run the cycle: scanning at S = 1 GB/s per CPU, allocating at cm * S per CPU. */
    const double S = 1e9;
    double A = s->cm * S * (1 + noise(s));
    double W = (double)(s->live + R_STACKS + R_GLOBALS);
    double t = W / (S * 0.5), assist = 0;   /* background: 25% of 2 CPUs */
    double alloc = A * 1.5 * t;             /* the mutator's 1.5 CPUs */
    if (T + alloc > goal && goal > T) {
        /* Assists hold the heap to the goal: the mutator allocates H = goal - T using `a`
         * CPU-seconds and scans with the rest (m), so 0.5 S t + S m = W, a + m = 1.5 t. */
        double H = (double)(goal - T), a = H / A;
        t = (W + S * a) / (2 * S);
        assist = 1.5 * t - a;
        alloc = H;
    }
    uint64_t peak = T + (uint64_t)alloc;
    gcrt_pacer_cycle c = {
        .triggered = T,
        .heap_live_end = peak,
        .scan_work = (uint64_t)W,
        .mark_ns = (uint64_t)(t * 1e9),
        .bg_cpu_ns = (uint64_t)(t * 0.5 * 1e9),
        .assist_cpu_ns = (uint64_t)(assist * 1e9),
        .procs = 2,
    };
    s->p.last_goal = s->p.goal;
    gcrt_pacer_measure(&s->p, &c);
    s->marked = s->live;
    s->retained = peak;
    s->cycle++;
    double err = fabs((double)peak - (double)goal) / (double)goal;
    if (converged_check) {
        CHECK(err <= 0.05, "cycle %u: heap peak %.1f MiB vs goal %.1f MiB (%.1f%% off) after 25 cycles", s->cycle,
              (double)peak / MiB, (double)goal / MiB, err * 100);
        if (err > s->worst) s->worst = err;
    }
    return err;
}

/* Run a phase: 25 cycles to converge, then `more` cycles that must hold the goal. */
static void phase(sim_t *s, const char *name, unsigned more) {
    double first = 0;
    s->worst = 0;
    for (unsigned i = 0; i < 25; i++) {
        double e = sim_cycle(s, false);
        if (i == 0) first = e;
    }
    for (unsigned i = 0; i < more; i++) sim_cycle(s, true);
    printf("  %-34s goal %7.1f MiB  trigger %7.1f MiB  cons/mark %.3f  first-cycle error %5.1f%%  worst after 25: %.2f%%\n",
           name, (double)s->p.goal / MiB, (double)s->p.trigger / MiB, s->p.cons_mark, first * 100, s->worst * 100);
}

static void pacer_sim(void) {
    sim_t s = {.live = 64 * MiB, .marked = 64 * MiB, .cm = 0.05, .percent = 100, .limit = INT64_MAX,
               .nonheap = 8 * MiB, .rng = 1};
    phase(&s, "steady, GOGC=100, 64 MiB live", 20);
    uint64_t want = 64 * MiB + (64 * MiB + R_STACKS + R_GLOBALS);
    CHECK(s.p.goal == want, "steady goal %llu, want %llu", (unsigned long long)s.p.goal, (unsigned long long)want);
    s.cm = 0.09;   /* the most whose runway (3 x 0.09 of the scan work) fits Go's 0.7 bound */
    phase(&s, "allocation rate x1.8", 10);
    s.cm = 0.05;
    phase(&s, "allocation rate /1.8", 10);
    s.live = 256 * MiB;
    phase(&s, "live heap x4", 10);
    s.live = 128 * MiB;
    phase(&s, "live heap /2", 10);
    s.percent = 50;
    phase(&s, "GOGC=50", 10);
    s.percent = 400;
    phase(&s, "GOGC=400", 10);
    s.percent = 25;
    phase(&s, "GOGC=25", 10);
    s.percent = 100;
    s.limit = 200 * MiB;
    phase(&s, "GOGC=100, limit 200 MiB (binds)", 10);
    CHECK(s.p.limited, "a 200 MiB limit does not bind a 128 MiB live heap at GOGC=100");
    CHECK(s.p.goal + s.nonheap <= 200 * MiB, "limited goal %llu + non-heap over the limit",
          (unsigned long long)s.p.goal);
    s.limit = 1024 * MiB;
    phase(&s, "limit raised to 1 GiB", 10);
    CHECK(!s.p.limited, "a 1 GiB limit binds");
    s.limit = 160 * MiB;
    phase(&s, "limit lowered to 160 MiB", 10);
    s.percent = -1;
    s.limit = 256 * MiB;
    phase(&s, "GOGC=off, limit 256 MiB", 10);
    CHECK(s.p.gogc_goal == UINT64_MAX && s.p.limited, "GOGC=off with a limit: the limit must set the goal");
    CHECK(s.p.goal > 240 * MiB && s.p.goal < 248 * MiB, "GOGC=off, 256 MiB limit: goal %.1f MiB",
          (double)s.p.goal / MiB);
    /* A limit below the live heap: goal = marked, trigger = goal (continuous collection). */
    s.limit = 64 * MiB;
    sim_cycle(&s, false);
    CHECK(s.p.goal == 128 * MiB, "limit below live: goal %llu, want the marked 128 MiB", (unsigned long long)s.p.goal);
    CHECK(s.p.trigger == s.p.goal, "limit below live: trigger must equal the goal");

    /* GOGC=off without a limit: no trigger at all. */
    gcrt_pacer q = {0};
    gcrt_pacer_in off = {.percent = -1, .memory_limit = INT64_MAX, .heap_marked = MiB};
    gcrt_pacer_commit(&q, &off);
    CHECK(q.goal == UINT64_MAX && q.trigger == UINT64_MAX, "GOGC=off, no limit: goal/trigger finite");
    /* The minimum heap, and the stop-the-world trigger at the goal. */
    gcrt_pacer_in tiny = {.percent = 200, .memory_limit = INT64_MAX, .heap_marked = 100 << 10, .stw = 1};
    gcrt_pacer_commit(&q, &tiny);
    CHECK(q.goal == 8 * MiB && q.trigger == 8 * MiB, "GOGC=200 minimum heap: goal %llu trigger %llu",
          (unsigned long long)q.goal, (unsigned long long)q.trigger);

    /* Assist ratio: remaining work over remaining heap; grows as the heap nears the goal. */
    gcrt_pacer a = {.cycles = 1, .last_scan = 64 * MiB};   /* one cycle measured */
    gcrt_pacer_in ai = {.percent = 100, .memory_limit = INT64_MAX, .heap_marked = 64 * MiB};
    gcrt_pacer_commit(&a, &ai);
    ai.heap_live = a.trigger;
    double r0 = gcrt_pacer_assist_ratio(&a, &ai, a.trigger, 0);
    double want_r = (double)(64 * MiB) / (double)(a.goal - a.trigger);
    CHECK(fabs(r0 - want_r) / want_r < 0.01, "assist ratio at the trigger %.3f, want %.3f", r0, want_r);
    ai.heap_live = a.goal - MiB;
    double r1 = gcrt_pacer_assist_ratio(&a, &ai, a.trigger, 32 * MiB);
    CHECK(r1 > r0, "assist ratio does not grow near the goal (%.3f -> %.3f)", r0, r1);
    ai.heap_live = a.goal + 10 * MiB;   /* past the goal: extended by 10%, still finite */
    double r2 = gcrt_pacer_assist_ratio(&a, &ai, a.trigger, 60 * MiB);
    CHECK(r2 > 0 && isfinite(r2), "assist ratio past the goal %.3f", r2);
}

static void limiter_sim(void) {
    gcrt_limiter l = {.capacity = 2e9};
    const double dt = 1e6, procs = 2;   /* 1 ms ticks, 2 CPUs */
    /* An idle program banks nothing: the bucket stays empty. */
    for (int i = 0; i < 1000; i++) gcrt_limiter_step(&l, 0, 0.1 * dt);
    CHECK(l.fill == 0 && !l.on, "idle time banked credit");
    double win_gc = 0, win_all = 0, worst = 0, total_gc = 0, total = 0;
    int first_on = -1;
    for (int i = 0; i < 10000; i++) {   /* 10 s of a death spiral */
        /* Off: assists and idle marking take 90% of the CPU. On: background marking only. */
        double gc = (l.on ? 0.25 : 0.90) * procs * dt;
        double mut = procs * dt - gc;
        gcrt_limiter_step(&l, gc, mut);
        if (l.on && first_on < 0) first_on = i;
        if (first_on >= 0) {
            win_gc += gc, win_all += procs * dt;
            total_gc += gc, total += procs * dt;
            if ((i - first_on) % 1000 == 999) {
                if (win_gc / win_all > worst) worst = win_gc / win_all;
                win_gc = win_all = 0;
            }
        }
    }
    CHECK(first_on > 0 && first_on < 2000, "the limiter turned on after %d ms", first_on);
    CHECK(worst <= 0.55, "collector took %.1f%% of a 1 s window with the limiter engaged", worst * 100);
    CHECK(total_gc / total >= 0.45, "limited collector share %.1f%%: the limiter starves the collector",
          total_gc / total * 100);
    printf("  limiter: on after %d ms; worst 1 s window %.1f%%, mean %.1f%%\n", first_on, worst * 100,
           total_gc / total * 100);
    for (int i = 0; i < 10; i++) gcrt_limiter_step(&l, 0.1 * dt, 1.9 * dt);
    CHECK(!l.on, "the limiter stays on while the mutator drains the bucket");
}

int main(void) {
    printf("pacer simulation:\n");
    pacer_sim();
    limiter_sim();
    printf("t_pacer_sim: OK\n");
    return 0;
}

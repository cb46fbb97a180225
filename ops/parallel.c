/* recur's own threads. A kernel splits its work into parts (rows of a
 * product, hidden units of a cell) and rc__parallel runs part 0 on the
 * calling thread and the others on pool workers, returning when all are
 * done: one fork-join per op, a few per time step. Workers spin briefly for
 * the next job (the steps of a recurrent layer come microseconds apart),
 * then sleep. One thread (the default) never touches the pool. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"

enum { MAX_THREADS = 64, SPINS = 4000 };

static struct pool {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int started;              /* workers running */
    atomic_int wanted;        /* threads to use, the caller included; 0 = not read yet */
    atomic_uint generation;   /* bumped per job */
    atomic_int sleeping;      /* workers waiting on wake */
    atomic_int pending;       /* worker parts of the current job not done */
    rc_part_fn fn;
    void *ctx;
    int parts;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *arg)
{
    const int me = (int)(intptr_t)arg; /* part index, 1.. */
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load(&pool.generation)) == seen && spins++ < SPINS)
            cpu_relax();
        if (gen == seen) {
            pthread_mutex_lock(&pool.mu);
            atomic_fetch_add(&pool.sleeping, 1);
            while ((gen = atomic_load(&pool.generation)) == seen)
                pthread_cond_wait(&pool.wake, &pool.mu);
            atomic_fetch_sub(&pool.sleeping, 1);
            pthread_mutex_unlock(&pool.mu);
        }
        seen = gen;
        if (me < pool.parts)
            pool.fn(pool.ctx, me, pool.parts);
        atomic_fetch_sub(&pool.pending, 1);
    }
    return NULL;
}

static int threads_from_env(void)
{
    const char *s = getenv("RECUR_NUM_THREADS");
    int n = s && *s ? atoi(s) : 1;
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
}

int rc_num_threads(void)
{
    int n = atomic_load(&pool.wanted);
    if (!n) {
        n = threads_from_env();
        int zero = 0;
        if (!atomic_compare_exchange_strong(&pool.wanted, &zero, n))
            n = atomic_load(&pool.wanted);
    }
    return n;
}

void rc_set_num_threads(int n)
{
    atomic_store(&pool.wanted, n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n);
}

/* Start workers up to the wanted count; returns how many threads a job can
 * use (fewer when thread creation fails: the work still gets done). */
static int ensure_workers(int want)
{
    while (pool.started < want - 1) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)(pool.started + 1)) != 0)
            break;
        pthread_detach(t);
        pool.started++;
    }
    return pool.started + 1;
}

void rc__parallel(rc_part_fn fn, void *ctx, int parts)
{
    int threads = rc_num_threads();
    if (parts > threads)
        parts = threads;
    if (parts > 1) {
        int available = ensure_workers(parts);
        if (parts > available)
            parts = available;
    }
    if (parts <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    /* Every started worker takes the job (those past `parts` only count
     * down), so the generation protocol stays simple. */
    pool.fn = fn;
    pool.ctx = ctx;
    pool.parts = parts;
    atomic_store(&pool.pending, pool.started);
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleeping) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mu);
    }
    fn(ctx, 0, parts);
    while (atomic_load(&pool.pending) > 0)
        cpu_relax();
}

void rc__split(int n, int align, int part, int parts, int *lo, int *hi)
{
    int chunks = (n + align - 1) / align;
    int per = chunks / parts, extra = chunks % parts;
    int c0 = part * per + (part < extra ? part : extra);
    int c1 = c0 + per + (part < extra);
    *lo = c0 * align < n ? c0 * align : n;
    *hi = c1 * align < n ? c1 * align : n;
}

/* spawn-cost.c: what starting a CGI process costs a big, threaded server.
 *
 *   spawn-cost [-n SPAWNS] [-m MIB] [-t THREADS] [-r ROUNDS] [PROGRAM]
 *
 * Sets itself up like a busy mpmd child: MIB (default 1024) MiB of memory
 * written to (so every page is mapped and its page-table entries exist;
 * THP is turned off for it with MADV_NOHUGEPAGE, as memory that grew
 * piecemeal through malloc mostly is not huge pages) and THREADS (default
 * 30) threads parked on a condition variable.  Then, ROUNDS times
 * (default 3), it starts PROGRAM (default /bin/true) SPAWNS times (default
 * 2000) one after the other and waits for each, once with fork() + execv()
 * and once with posix_spawn() (glibc: clone(CLONE_VM|CLONE_VFORK), so no
 * copy of the page tables), alternating which goes first.  It prints the
 * time of every start-to-exit as a median per method, the round totals,
 * and the ratio.  This backs the design note that mpmd's CGI handler uses
 * posix_spawn (src/modules/cgi.c).
 *
 * Build: cc -O2 -pthread -o spawn-cost spawn-cost.c */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;

static void *parked(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One start of PROG by METHOD (0 fork+exec, 1 posix_spawn), waited for;
 * its duration in microseconds, or -1. */
static double one(int method, char *prog)
{
    char *argv[] = {prog, NULL};
    pid_t pid;
    int st;
    double t0 = now_us();
    if (method == 0) {
        pid = fork();
        if (pid == 0) {
            execv(prog, argv);
            _exit(127);
        }
        if (pid == -1)
            return -1;
    } else {
        int e = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
        if (e != 0) {
            errno = e;
            return -1;
        }
    }
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 127)
        return -1;
    return now_us() - t0;
}

int main(int argc, char **argv)
{
    long n = 2000, mib = 1024, threads = 30, rounds = 3;
    int opt;
    while ((opt = getopt(argc, argv, "n:m:t:r:")) != -1) {
        switch (opt) {
        case 'n': n = atol(optarg); break;
        case 'm': mib = atol(optarg); break;
        case 't': threads = atol(optarg); break;
        case 'r': rounds = atol(optarg); break;
        default:
            fprintf(stderr, "usage: spawn-cost [-n SPAWNS] [-m MIB] [-t THREADS] [-r ROUNDS] [PROGRAM]\n");
            return 2;
        }
    }
    char *prog = optind < argc ? argv[optind] : "/bin/true";
    if (n < 1 || mib < 0 || threads < 0 || rounds < 1) {
        fprintf(stderr, "spawn-cost: bad arguments\n");
        return 2;
    }

    size_t bytes = (size_t)mib << 20;
    char *mem = NULL;
    if (bytes) {
        mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
            perror("spawn-cost: mmap");
            return 1;
        }
        madvise(mem, bytes, MADV_NOHUGEPAGE);
        for (size_t i = 0; i < bytes; i += 4096)
            mem[i] = (char)i;
    }
    pthread_t *tid = calloc((size_t)threads + 1, sizeof *tid);
    for (long i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, parked, NULL) != 0) {
            perror("spawn-cost: pthread_create");
            return 1;
        }

    double *each[2] = {malloc(sizeof(double) * (size_t)(n * rounds)),
                       malloc(sizeof(double) * (size_t)(n * rounds))};
    double total[2][64] = {{0}};
    const char *name[2] = {"fork+exec", "posix_spawn"};
    if (rounds > 64)
        rounds = 64;
    printf("# spawn-cost: %ld x %s, %ld MiB touched, %ld parked threads, %ld rounds\n", n, prog, mib,
           threads, rounds);
    for (long r = 0; r < rounds; r++)
        for (int k = 0; k < 2; k++) {
            int m = (int)((k + r) % 2);
            double t0 = now_us();
            for (long i = 0; i < n; i++) {
                double d = one(m, prog);
                if (d < 0) {
                    fprintf(stderr, "spawn-cost: %s of %s failed: %s\n", name[m], prog, strerror(errno));
                    return 1;
                }
                each[m][r * n + i] = d;
            }
            total[m][r] = (now_us() - t0) / 1e6;
            printf("round %ld %-11s total %.2f s (%.0f starts/s)\n", r + 1, name[m], total[m][r],
                   n / total[m][r]);
            fflush(stdout);
        }
    double med[2], tmed[2];
    for (int m = 0; m < 2; m++) {
        med[m] = median(each[m], (int)(n * rounds));
        tmed[m] = median(total[m], (int)rounds);
    }
    printf("| method | median start-to-exit, us | median of round totals (%ld starts), s |\n", n);
    printf("|---|---|---|\n");
    for (int m = 0; m < 2; m++)
        printf("| %s | %.0f | %.2f |\n", name[m], med[m], tmed[m]);
    printf("fork+exec / posix_spawn: %.1fx per start\n", med[0] / med[1]);

    pthread_mutex_lock(&mu);
    done = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (long i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    return 0;
}

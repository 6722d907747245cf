/* scoreboard.c: creating the shared scoreboard and reading it (see
 * scoreboard.h).  Supervisor creates; children write their own slots. */
#include "config.h"

#include "mpmd/mpm/scoreboard.h"

#include <string.h>
#include <sys/mman.h>

int scoreboard_create(struct scoreboard *sb, int server_limit, int threads)
{
    size_t nchild = (size_t)server_limit;
    size_t nthread = nchild * (size_t)threads;
    size_t children_bytes = (nchild * sizeof(struct sb_child) + 63) & ~(size_t)63;
    size_t size = children_bytes + nthread * sizeof(struct sb_thread);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(sb, 0, sizeof *sb);
    sb->server_limit = server_limit;
    sb->threads_per_child = threads;
    sb->size = size;
    sb->children = p;
    sb->threads = (struct sb_thread *)((char *)p + children_bytes);
    return 0;
}

void scoreboard_destroy(struct scoreboard *sb)
{
    if (sb->children)
        munmap(sb->children, sb->size);
    memset(sb, 0, sizeof *sb);
}

int scoreboard_count_threads(const struct scoreboard *sb, int slot, int state)
{
    int n = 0;
    for (int t = 0; t < sb->threads_per_child; t++)
        if (atomic_load_explicit(&scoreboard_thread(sb, slot, t)->state, memory_order_relaxed) == state)
            n++;
    return n;
}

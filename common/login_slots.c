/* SPDX-License-Identifier: MIT */
#include "login_slots.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define SLOTS_FILE "login.slots"

unsigned login_slots(const struct roles_config *cfg) {
        uint32_t n = cfg->login_memory_max_kib / cfg->argon2_m_cost_kib;
        return n > 0 ? n : 1;
}

/* The slots file in state.db's directory. */
static int slots_path(const struct roles_config *cfg, char *buf, size_t size) {
        const char *slash = strrchr(cfg->state_db, '/');
        int dir = slash ? (int) (slash - cfg->state_db) : 1;
        int n = snprintf(buf, size, "%.*s/%s", dir, slash ? cfg->state_db : ".", SLOTS_FILE);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Try every slot once, from a random one (so that waiters do not all fight for slot 0). */
static int try_slots(int fd, unsigned n) {
        unsigned start = 0;
        if (getrandom(&start, sizeof(start), GRND_NONBLOCK) < 0)
                start = (unsigned) getpid();
        for (unsigned i = 0; i < n; i++) {
                struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (start + i) % n, .l_len = 1 };
                if (fcntl(fd, F_OFD_SETLK, &lock) == 0)
                        return 0;
                if (errno != EAGAIN && errno != EACCES)
                        return -errno;
        }
        return -EBUSY;
}

int login_slot_take(const struct roles_config *cfg, struct login_slot *ret) {
        char path[PATH_MAX];
        int r = slots_path(cfg, path, sizeof(path));
        if (r < 0)
                return r;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        long long deadline = now_ms() + cfg->login_slot_wait_ms;
        unsigned n = login_slots(cfg);
        while ((r = try_slots(fd, n)) == -EBUSY && now_ms() < deadline) {
                struct timespec pause = { 0, (2 + (long) (now_ms() % 7)) * 1000000L };
                nanosleep(&pause, NULL);
        }
        if (r < 0) {
                close(fd);
                return r;
        }
        ret->fd = fd;
        return 0;
}

void login_slot_give_back(struct login_slot *slot) {
        if (slot->fd >= 0)
                close(slot->fd);
        slot->fd = -1;
}

/* SPDX-License-Identifier: MIT */
#include "fork_generation.h"

#include <pthread.h>
#include <stdbool.h>

/* Bumped by the child's handler, while the child has one thread: the threads of a process read a
 * value that does not change under them (but for the fallback below). */
static uint64_t generation;
static bool unregistered;       /* the handler could not be registered */

static void forked(void) {
        generation++;
}

/* Registered when the program or library that holds this file is loaded, not at a first call:
 * that may come from inside another library's fork handler, where registering one waits for
 * ever; and a pthread_once there cost every process's first NSS lookup a system call (its
 * futex wake). */
__attribute__((constructor)) static void register_handler(void) {
        unregistered = pthread_atfork(NULL, NULL, forked) != 0;
}

uint64_t roles_fork_generation(void) {
        /* No handler (no memory for it): a fork would go unnoticed, so no two calls answer the
         * same and nothing recorded is ever taken again, in a child or not. */
        if (unregistered)
                return __atomic_add_fetch(&generation, 1, __ATOMIC_RELAXED);
        return generation;
}

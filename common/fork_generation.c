/* SPDX-License-Identifier: MIT */
#include "fork_generation.h"

#include <pthread.h>
#include <stdbool.h>

/* Bumped by the child's handler, while the child has one thread: the threads of a process read a
 * value that does not change under them (but for the fallback below). */
static uint64_t generation;
static bool unregistered;       /* the handler could not be registered */
static pthread_once_t registered = PTHREAD_ONCE_INIT;

static void forked(void) {
        generation++;
}

static void register_handler(void) {
        unregistered = pthread_atfork(NULL, NULL, forked) != 0;
}

uint64_t roles_fork_generation(void) {
        pthread_once(&registered, register_handler);
        /* No handler (no memory for it): a fork would go unnoticed, so no two calls answer the
         * same and nothing recorded is ever taken again, in a child or not. */
        if (unregistered)
                return __atomic_add_fetch(&generation, 1, __ATOMIC_RELAXED);
        return generation;
}

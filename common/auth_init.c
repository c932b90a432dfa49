/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>

#include "auth-internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = -EIO;

static void libs_setup(void) {
        /* sodium_init() returns 1 when something else in the process already called it. */
        if (sodium_init() < 0 || oath_init() != OATH_OK)
                init_status = -EIO;
        else
                init_status = 0;
}

int auth_libs_ready(void) {
        if (pthread_once(&init_once, libs_setup) != 0)
                return -EIO;
        return init_status;
}

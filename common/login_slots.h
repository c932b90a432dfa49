/* SPDX-License-Identifier: MIT */
/*
 * Host-wide slots for the argon2 verifications of logins, so that a flood of unauthenticated
 * attempts (every sshd child verifies against 64 MiB at the default cost) cannot take more memory
 * than login_memory_max_kib in all: slots = login_memory_max_kib / argon2_m_cost_kib, at least one.
 *
 * A slot is one byte of a root-only file next to state.db ("login.slots"), held with an open file
 * description lock (F_OFD_SETLK): the kernel lets it go when the descriptor is closed, so a login
 * killed at any point frees its slot, and a setuid program's caller cannot stop one that holds a
 * slot (pam_roles holds it behind its shield). A login that finds every slot taken tries again
 * every few milliseconds until login_slot_wait_ms has passed.
 */
#pragma once

#include "config.h"

struct login_slot {
        int fd;         /* -1: none held */
};

/* 0 with a slot held, -EBUSY when none came free in time, or -errno (the file). */
int login_slot_take(const struct roles_config *cfg, struct login_slot *ret);
void login_slot_give_back(struct login_slot *slot);

/* How many slots cfg allows. */
unsigned login_slots(const struct roles_config *cfg);

/* SPDX-License-Identifier: MIT */
/* Shared by auth_*.c only. */
#pragma once

/* Initialise libsodium and liboath once per process (thread-safe): 0, or -EIO. */
int auth_libs_ready(void);

/* SPDX-License-Identifier: MIT */
/* Which processes run as a uid: what `userdel` asks before it deletes an account. libc only. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * Look through proc_root ("/proc"; a test gives a tree of its own) for a process whose real,
 * effective or saved uid (the Uid: line of PID/status) is uid. 1 with the lowest such pid and its
 * name (the Name: line, as the kernel escapes it; ret_name may be NULL), 0 when there is none,
 * -errno when proc_root or a process's status cannot be read (a process that exits meanwhile is
 * no error).
 */
int roles_proc_find_uid(const char *proc_root, uid_t uid, pid_t *ret_pid, char *ret_name, size_t name_size);

/* SPDX-License-Identifier: MIT */
/*
 * Which fork of the process this is: a number that a fork changes in the child and leaves as it
 * is in the parent. Whatever a process keeps that a child must not take as its own (what PAM's
 * auth found for account, the NSS module's "looked a moment ago") records the generation it was
 * kept in, and is used only in that generation.
 *
 * Why not getpid(): a pid is not the process. A child in a new pid namespace may have its
 * parent's pid (both 1), and a pid is reused once its process is gone (a grandchild may get the
 * pid of the grandparent whose memory it inherited).
 *
 * One pthread_atfork child handler, registered when the program or library holding this code is
 * loaded (a constructor), bumps it. vfork() and posix_spawn() run no handlers, but their child
 * execs at once. Should the handler not register (no memory), every call answers another number:
 * nothing recorded is ever taken. Links libc only.
 */
#pragma once

#include <stdint.h>

uint64_t roles_fork_generation(void);

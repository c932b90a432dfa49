/* SPDX-License-Identifier: MIT */
/*
 * The one splitter of passwd, group and shadow lines ("name:x:uid:gid:gecos:home:shell",
 * "name:x:gid:a,b,c", the nine fields of shadow) and of a group's member list. Every field is a
 * pointer into the line and a length: nothing is copied, nothing is written (but by
 * passwd_line_cut, when asked), and nothing at or past the length given is read (the line need not be NUL-terminated, and a NUL inside it is a
 * byte of its field like any other, for the validators to refuse). What a field must hold is
 * the validators' business (util.h). Links libc only: host_accounts.c uses it in the NSS module.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PASSWD_LINE_FIELDS 7    /* name:x:uid:gid:gecos:home:shell */
#define GROUP_LINE_FIELDS  4    /* name:x:gid:members */
#define SHADOW_LINE_FIELDS 9    /* name:hash:lastchg:min:max:warn:inactive:expire:reserved */

/* A field: p[0..n), not NUL-terminated. */
struct passwd_field {
        const char *p;
        size_t n;
};

/*
 * Split line[0..len) at ':' (the line without its '\n') into at most max fields. Returns how many
 * fields it holds (one more than its ':'s), but at most max + 1, which means "too many": the rest
 * of the line is not looked at. Fills fields[0..min(that, max)); each ends at its ':' or at len.
 * A caller that needs exactly n fields gives max = n and refuses any other count; one that only
 * looks at the first few (the host's own files, read as leniently as glibc reads them) uses those
 * that are there.
 */
size_t passwd_line_fields(const char *line, size_t len, struct passwd_field *fields, size_t max);

/*
 * The members of a group line's last field ("a,b,c"), one at a time: *pos is 0 for the first
 * call and is moved past the member returned in *ret. False (and *ret untouched) after the last
 * one. An empty list has no member; an empty member ("a,,b", "a,") is returned as one, of length
 * 0, for the caller to refuse.
 */
bool passwd_line_next_member(struct passwd_field list, size_t *pos, struct passwd_field *ret);

/*
 * For a caller that owns the line and keeps its fields as strings: field f of line, NUL-terminated
 * in place, over the ':' or ',' after it or the byte at the line's end (which must be writable:
 * the '\n' or a NUL after the text).
 */
char *passwd_line_cut(char *line, struct passwd_field f);

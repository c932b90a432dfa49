/* SPDX-License-Identifier: MIT */
/*
 * roles.nss: the compiled index of roles.db that libnss_roles.so.2 maps and reads. Every process
 * on the host that resolves a name loads the NSS module, so what it reads is laid out for it:
 * no parser, no library, no lock it did not make; a lookup is one or two hash probes into a
 * read-only mapping. The layout below is the contract between the writer (nss_index_build.c,
 * fed from roles.db by store_index.c) and the reader (nss_index_read.c); the README repeats it.
 *
 * Two files, each installed by rename (never written in place), in the directory of roles.db:
 *
 *   roles.nss        a base: every user and group, compiled whole (rolesctl index rebuild,
 *                    a migration, a structural change, or a delta grown too large)
 *   roles.nss-delta  the users and groups changed since that base, rewritten whole by each
 *                    change (so it stays small), and the base records they replace; empty
 *                    right after a base is compiled
 *
 * A delta applies only to the base whose id and serial it names; any other is ignored (a
 * writer installing a new base renames it first, then its empty delta over the old one). The serial of
 * what a reader serves is the delta's when it applies, else the base's.
 *
 * Byte layout, version 1. Integers are in the byte order of the host that wrote the file
 * (byte_order reads 0x01020304 there; a file of another order is refused). Every section
 * starts 8-aligned. A reader trusts nothing: it checks the header (magic, version, sizes,
 * header checksum, file size against fstat) when it maps the file, every section's extent
 * against the mapping, and every index, string and range against its section before it
 * follows it. The body checksum covers everything after the header (the extension with it);
 * readers do not verify it on every mapping (hashing the file would cost each process far
 * more than its first lookup may), `rolesctl doctor` and the writer do.
 *
 *   struct nss_index_header                      at offset 0
 *   sections[NSS_SECTION_USERS]         struct nss_index_user[count], ascending uid
 *   sections[NSS_SECTION_GROUPS]        struct nss_index_group[count], ascending gid
 *   sections[NSS_SECTION_USER_BY_*]     hash tables of uint32_t slots, count a power of two
 *   sections[NSS_SECTION_GROUP_BY_*]    (or 0): 0 is an empty slot, else record index + 1.
 *                                       Open addressing, linear probing from the key's hash.
 *   sections[NSS_SECTION_IDS]           uint32_t pool: users' ordinary gids, ordinary groups'
 *                                       members (user indices into this file's USERS)
 *   sections[NSS_SECTION_MEMBERSHIPS]   struct nss_index_membership pool: users' published
 *                                       metarole groups (id = gid) and those groups' members
 *                                       (id = user index), each with the end of the grant
 *   sections[NSS_SECTION_STRINGS]       bytes, not NUL-terminated: users' names (by uid),
 *                                       groups' names (by gid), gecos, homes, shells, then the
 *                                       copies of the ordinary groups' member names (below)
 *   sections[NSS_SECTION_SUPERSEDED_*]  a delta only: ascending indices of the base's users
 *                                       and groups that the delta replaces or removes
 *   a delta only, after every section, the host verdict (below): its last bytes
 *   a base only, after every section, the member extension (below):
 *     struct nss_index_range[n GROUPS]  at ranges_offset: each group's list in the members
 *                                       (a metarole group's: empty)
 *     struct nss_index_member[count]    at members_offset: a group's contiguous, by uid
 *     struct nss_index_extension        the file's last bytes
 *
 * The member extension. A reader that does not know it (the module of a release before it)
 * reads the file as it reads any version-1 file, and serves the same members from IDS: so a
 * process that still has the old module mapped keeps serving a new writer's index, and a new
 * module an old writer's (no extension: members from IDS). It is found by its trailer, the
 * file's last sizeof(struct nss_index_extension) bytes, and only when those lie after the end
 * of every section (so no section's bytes, a gecos at the end of STRINGS say, can pass for
 * one). No magic there: no extension. The magic there: every field is checked (its checksum,
 * version and size, a base's, both arrays 8-aligned, after the sections, before the trailer,
 * their counts within that space, the ranges one per group); one failing is a damaged file.
 *
 * An ordinary group's member in the extension carries all that judging and serving it takes:
 * the user's index (for a delta's superseded check), uid and gid, and a copy of the name, the
 * copies of one group's members one run of bytes in STRINGS, the groups' runs in gid order. A
 * member walk, an enumeration's most of the time, so reads the group's list and its names in
 * order, not one user record and one name at random per member. What is served is the copy:
 * it is the copy that is judged (a valid name, uid and gid in the ranges, a name the host's
 * passwd does not hold), from the entry alone. A published metarole group's members stay user
 * indices in MEMBERSHIPS: they need the user's record anyway (enabled, expiry, against the
 * clock). A delta carries no extension (its groups' members come from its users).
 *
 * What is judged at lookup time, not compiled: whether a user is active now (enabled, not
 * expired: a metarole group lists only active members), whether a grant's `until` has passed,
 * the configured uid/gid ranges, name and text validity, and the host's own accounts.
 *
 * The host verdict. The host's own accounts win (host_accounts.h): a reader would otherwise
 * read /etc/passwd and /etc/group at its first lookup of an entry of ours, a third of a
 * one-shot process's cost of the module. So the writer judges every record as a reader would,
 * against those files as it read them, and says what it found in a trailer at the end of the
 * delta it installs (every base is installed with a delta: the base's verdict travels in it):
 * whether no record of the base, and whether no record of the delta, has a name or an id the
 * host's files hold (the rule of host_accounts.h: a user's name, uid or primary gid, any gid it
 * lists whatever the clock says; a group's name or gid), and the stamps of the versions of the
 * two files it read (file_stamp.h: device, inode, size, mtime, ctime). A reader that finds both
 * flags set and both files' stamps the same now (two stats) has nothing for the rule to take
 * away, and reads neither file; any other reader reads them as before. An edit in place moves
 * ctime, a rename changes the inode; so the writer leaves the trailer out when either file was
 * changed less than a second before it read it (a later change within the same timestamp tick
 * could keep every stamp). Found as the member extension is: the delta's last bytes, after
 * every section, with its magic; a trailer that fails a check is a damaged file. A reader that
 * does not know it (a release before it) finds no member extension there and reads the files.
 *
 * A group's members: in a base, the group's own list. Through a delta, for a group G: the
 * members listed by the base record with G's gid, kind and row (if there is one) whose users
 * the delta does not supersede, then the delta's users that list G. A writer puts every user
 * whose memberships changed into the delta, so both halves are current.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define NSS_INDEX_MAGIC "ROLESNSS"
#define NSS_INDEX_VERSION 1u
#define NSS_INDEX_EXTENSION_MAGIC "ROLESEXT"
#define NSS_INDEX_EXTENSION_VERSION 1u
#define NSS_INDEX_BYTE_ORDER 0x01020304u
#define NSS_INDEX_HOST_MAGIC "ROLESHST"
#define NSS_INDEX_HOST_VERSION 1u

enum nss_index_kind {
        NSS_INDEX_BASE = 1,
        NSS_INDEX_DELTA = 2,
};

enum nss_index_section {
        NSS_SECTION_USERS,
        NSS_SECTION_GROUPS,
        NSS_SECTION_USER_BY_NAME,
        NSS_SECTION_USER_BY_UID,
        NSS_SECTION_USER_BY_ROW,        /* roles.db's users.id: the writer finds what a change replaces */
        NSS_SECTION_GROUP_BY_NAME,
        NSS_SECTION_GROUP_BY_GID,
        NSS_SECTION_GROUP_BY_ROW,       /* kind and row (groups.id or metaroles.id) */
        NSS_SECTION_IDS,
        NSS_SECTION_MEMBERSHIPS,
        NSS_SECTION_STRINGS,
        NSS_SECTION_SUPERSEDED_USERS,
        NSS_SECTION_SUPERSEDED_GROUPS,
        NSS_N_SECTIONS,                 /* the header's */
        /* The member extension's arrays, which the reader keeps as sections of their own: */
        NSS_SECTION_GROUP_MEMBERS = NSS_N_SECTIONS,
        NSS_SECTION_MEMBER_RANGES,
        NSS_N_FILE_SECTIONS,
};

struct nss_index_section_ref {
        uint64_t offset;                /* from the start of the file, 8-aligned */
        uint64_t count;                 /* elements, of the section's own size */
};

struct nss_index_header {
        char magic[8];                  /* NSS_INDEX_MAGIC, no NUL */
        uint32_t version;               /* NSS_INDEX_VERSION */
        uint32_t header_size;           /* sizeof(struct nss_index_header) */
        uint32_t byte_order;            /* NSS_INDEX_BYTE_ORDER as the writer stored it */
        uint32_t kind;                  /* enum nss_index_kind */
        uint64_t serial;                /* roles.db's serial that this file brings the index to */
        uint64_t file_size;             /* the whole file; any other size is refused */
        uint8_t base_id[16];            /* random, chosen when a base is compiled; a delta names its base's */
        uint64_t base_serial;           /* a delta: its base's serial; a base: its own */
        struct nss_index_section_ref sections[NSS_N_SECTIONS];
        uint64_t body_checksum;         /* nss_index_checksum() of [header_size, file_size) */
        uint64_t header_checksum;       /* nss_index_checksum() of the bytes before this field */
};

struct nss_index_string {
        uint32_t offset;                /* into STRINGS */
        uint32_t length;
};

struct nss_index_range {
        uint32_t first;                 /* into IDS, MEMBERSHIPS or the extension's members */
        uint32_t count;
};

enum {
        NSS_INDEX_USER_ENABLED = 1u << 0,
};

struct nss_index_user {
        uint32_t uid, gid;
        struct nss_index_string name, gecos, home, shell;
        struct nss_index_range groups;          /* IDS: gids of the user's ordinary groups */
        struct nss_index_range metaroles;       /* MEMBERSHIPS: published metarole groups held */
        uint32_t flags;                         /* NSS_INDEX_USER_* */
        uint32_t reserved;                      /* 0 */
        int64_t expires_at;                     /* the account's end, 0 for none */
        int64_t row;                            /* roles.db users.id */
};

enum nss_index_group_kind {
        NSS_INDEX_GROUP_ORDINARY = 1,
        NSS_INDEX_GROUP_METAROLE = 2,           /* a published metarole: members hold it through a role */
};

struct nss_index_group {
        uint32_t gid;
        uint32_t kind;                          /* enum nss_index_group_kind */
        struct nss_index_string name;
        struct nss_index_range members;         /* base: ordinary in IDS, metarole in MEMBERSHIPS;
                                                 * delta: empty */
        int64_t row;                            /* roles.db groups.id or metaroles.id */
};

struct nss_index_membership {
        uint32_t id;                            /* a gid (in a user) or a user index (in a group) */
        uint32_t reserved;                      /* 0 */
        int64_t until;                          /* the grant ends then; 0: it does not end */
};

/* An ordinary group's member, in a base: all that judging and serving it takes, so that a
 * member walk reads the group's list and the names after it, never the user's record. */
struct nss_index_member {
        uint32_t user;                          /* the user's index in USERS (a delta may supersede it) */
        uint32_t uid, gid;                      /* the user's */
        uint32_t reserved;                      /* 0 */
        struct nss_index_string name;           /* a copy of the user's name, after the group's other members' */
};

/* The member extension's trailer: the last bytes of a base that has one. */
struct nss_index_extension {
        char magic[8];                          /* NSS_INDEX_EXTENSION_MAGIC, no NUL */
        uint32_t version;                       /* NSS_INDEX_EXTENSION_VERSION */
        uint32_t size;                          /* sizeof(struct nss_index_extension) */
        uint64_t ranges_offset;                 /* struct nss_index_range[n GROUPS], into the members */
        uint64_t members_offset, members_count; /* struct nss_index_member[] */
        uint64_t checksum;                      /* nss_index_checksum() of the bytes before this field */
};

/* A file's stamp (file_stamp.h) as the host verdict stores it. */
struct nss_index_host_stamp {
        uint64_t dev, ino, size;
        int64_t mtime_sec, ctime_sec;
        uint32_t mtime_nsec, ctime_nsec;
};

enum {
        NSS_INDEX_HOST_BASE_CLEAR = 1u << 0,    /* no record of the base is the host's */
        NSS_INDEX_HOST_DELTA_CLEAR = 1u << 1,   /* no record of this delta is the host's */
        NSS_INDEX_HOST_CLEAR = NSS_INDEX_HOST_BASE_CLEAR | NSS_INDEX_HOST_DELTA_CLEAR,
};

/* The host verdict's trailer: the last bytes of a delta that has one. */
struct nss_index_host_verdict {
        char magic[8];                          /* NSS_INDEX_HOST_MAGIC, no NUL */
        uint32_t version;                       /* NSS_INDEX_HOST_VERSION */
        uint32_t size;                          /* sizeof(struct nss_index_host_verdict) */
        uint32_t flags;                         /* NSS_INDEX_HOST_* */
        uint32_t reserved;                      /* 0 */
        struct nss_index_host_stamp passwd, group;      /* /etc/passwd and /etc/group as judged */
        uint64_t checksum;                      /* nss_index_checksum() of the bytes before this field */
};

_Static_assert(sizeof(struct nss_index_header) == 288, "header layout");
_Static_assert(sizeof(struct nss_index_host_verdict) == 128, "host verdict layout");
_Static_assert(sizeof(struct nss_index_extension) == 48, "extension layout");
_Static_assert(sizeof(struct nss_index_member) == 24, "member layout");
_Static_assert(sizeof(struct nss_index_user) == 80, "user record layout");
_Static_assert(sizeof(struct nss_index_group) == 32, "group record layout");
_Static_assert(sizeof(struct nss_index_membership) == 16, "membership layout");

/* FNV-1a, 64 bits: the checksums and the name hashes. */
static inline uint64_t nss_index_checksum(const void *data, uint64_t n) {
        const unsigned char *p = data;
        uint64_t h = 0xcbf29ce484222325ULL;
        for (uint64_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

/* The slot a key starts probing from, in a table of mask + 1 slots. */
static inline uint64_t nss_index_hash_name(const char *name, uint64_t n) {
        return nss_index_checksum(name, n);
}

static inline uint64_t nss_index_hash_id(uint64_t id) {
        return (id * 0x9E3779B97F4A7C15ULL) >> 17;
}

/* A group's row key: a group row and a metarole row may share a number. */
static inline uint64_t nss_index_group_row_key(uint32_t kind, int64_t row) {
        return ((uint64_t) row << 2) | kind;
}

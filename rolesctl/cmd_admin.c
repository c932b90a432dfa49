/* SPDX-License-Identifier: MIT */
/* rolesctl init | check | perms | batch | audit | backup */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"
#include "doctor_sudo.h"

#define SUPER_ADMIN_ROLE "super-admin"

/* The first account: a user holding the super-admin metarole through the role of that name. */
static int create_admin(struct cli *c, struct roles_writer *s, const char *name, const char *hash, bool activation) {
        struct roles_role role;
        struct roles_user u = { .uid = ROLES_ID_INVALID, .gid = ROLES_ID_INVALID, .enabled = true };
        int r;

        r = roles_role_by_name(roles_writer_snapshot(s), SUPER_ADMIN_ROLE, &role);
        if (r == -ENOENT) {
                role = (struct roles_role) { .name = SUPER_ADMIN_ROLE, .metarole = ROLES_METAROLE_SUPER_ADMIN,
                                             .description = "Holds every permission" };
                r = roles_role_add(s, &role);
        }
        if (r < 0)
                return cli_fail_store(c, r);
        if (roles_strcpy(u.name, sizeof(u.name), name) < 0 || !roles_name_valid(u.name))
                return cli_fail(EXIT_USAGE, "invalid user name '%.40s'", name);
        u.activated_at = activation ? 0 : roles_snapshot_now(roles_writer_snapshot(s));
        if ((r = roles_user_add(s, &u)) < 0 || (r = roles_role_assign(s, &role, &u, 0)) < 0 ||
            (hash && (r = roles_secret_set_password(roles_writer_secrets(s), u.uuid, hash, false)) < 0))
                return cli_fail_store(c, r);
        return activation ? cli_issue_code(c, s, &u, ROLES_CODE_ACTIVATION) : EXIT_OK;
}

static int cmd_init(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = {
                { "admin", true }, { "password-stdin", false }, { "activation", false }, { NULL, false },
        };
        char hash[256] = "";
        struct roles_writer *s;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, spec, 0, &a) < 0)
                return EXIT_USAGE;
        const char *admin = args_opt(&a, 0);
        bool from_stdin = args_opt(&a, 1), activation = args_opt(&a, 2);
        if (!admin && (from_stdin || activation))
                return cli_fail(EXIT_USAGE, "--password-stdin and --activation go with --admin; usage: %s", cli_usage(c));
        if (from_stdin && activation)
                return cli_fail(EXIT_USAGE, "give --password-stdin or --activation, not both");
        if (admin && !roles_name_valid(admin))
                return cli_fail(EXIT_USAGE, "invalid user name '%.40s'", admin);
        if (admin && ((r = cli_check_local_name(c, admin, false)) != EXIT_OK ||
                      (r = cli_check_local_name(c, admin, true)) != EXIT_OK))
                return r;
        if (admin && !activation && (r = password_read_and_hash(c, from_stdin, hash)) != EXIT_OK)
                return r;

        r = cli_writer(c, ROLES_WRITER_CREATE, &s);
        if (r == EXIT_OK)
                r = roles_audit(s, "init", c->cfg.public_db, "%s", "") < 0 ? cli_fail_store(c, -EIO) : EXIT_OK;
        if (r == EXIT_OK && admin) {
                cli_answer_text(c, "admin", admin);
                r = create_admin(c, s, admin, activation ? NULL : hash, activation);
        }
        roles_wipe(hash, sizeof(hash));
        return r;
}

static int cmd_check(struct cli *c, int argc, char **argv) {
        struct roles_snapshot *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 2, &a) < 0)
                return EXIT_USAGE;
        if (!roles_perm_valid(a.pos[1], false))
                return cli_fail(EXIT_USAGE, "invalid permission '%.64s': a concrete dotted code such as login.sshd", a.pos[1]);
        if ((r = cli_snapshot(c, 0, &s)) != EXIT_OK)
                return r;
        r = roles_check(s, a.pos[0], a.pos[1], roles_snapshot_now(s));
        if (r < 0)
                return cli_fail_store(c, r);
        if (c->json) {
                fputs("{\"user\":", c->out);
                out_json_string(c->out, a.pos[0]);
                fputs(",\"permission\":", c->out);
                out_json_string(c->out, a.pos[1]);
                fprintf(c->out, ",\"allowed\":%s}\n", r ? "true" : "false");
        } else
                fputs(r ? "yes\n" : "no\n", c->out);
        return r ? EXIT_OK : EXIT_NO;
}

/* Does grant i count? Not when disabled, nor when a disabled line of its role switches it off whole. */
static bool counts(const struct roles_resolution *res, size_t i) {
        return !res->grants[i].disabled && res->grants[i].off_by == ROLES_NONE;
}

/* Sorted, de-duplicated permission codes that count (for `perms` without --why). */
static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void print_perms_json(struct cli *c, const struct roles_resolution *res, bool why) {
        char path[512], when[21];
        FILE *f = c->out;
        fputs("{\"user\":", f);
        out_json_string(f, res->user);
        fprintf(f, ",\"active\":%s,\"inactive_reason\":", res->inactive ? "false" : "true");
        if (res->inactive)
                out_json_string(f, res->inactive);
        else
                fputs("null", f);
        fprintf(f, ",\"superuser\":%s,\"roles\":[", res->superuser ? "true" : "false");
        for (size_t i = 0; i < res->n_roles; i++) {
                fputs(i ? ",{\"role\":" : "{\"role\":", f);
                out_json_string(f, res->roles[i].name);
                fprintf(f, ",\"ended\":%s,\"until\":", res->roles[i].ended ? "true" : "false");
                if (res->roles[i].until)
                        out_json_string(f, roles_format_time(res->roles[i].until, when));
                else
                        fputs("null", f);
                fputc('}', f);
        }
        fputs("],\"metaroles\":[", f);
        for (size_t i = 0; i < res->n_metaroles; i++) {
                if (i)
                        fputc(',', f);
                out_json_string(f, res->metaroles[i].code);
        }
        fputs("],\"permissions\":[", f);
        bool first = true;
        for (size_t i = 0; i < res->n_grants; i++) {
                if (!why && !counts(res, i))
                        continue;
                fputs(first ? "{\"permission\":" : ",{\"permission\":", f);
                first = false;
                out_json_string(f, res->grants[i].perm);
                if (why) {
                        roles_resolution_path(res, i, path, sizeof(path));
                        fputs(",\"via\":", f);
                        out_json_string(f, path);
                        fprintf(f, ",\"disabled\":%s", res->grants[i].disabled ? "true" : "false");
                        if (res->grants[i].off_by != ROLES_NONE) {
                                fputs(",\"switched_off_by\":", f);
                                out_json_string(f, res->grants[res->grants[i].off_by].perm);
                        }
                }
                fputc('}', f);
        }
        fputs("]}\n", f);
}

static int print_perms_text(struct cli *c, const struct roles_resolution *res, bool why) {
        char path[512], when[21];
        FILE *f = c->out;

        if (res->inactive) {
                fprintf(f, "%s holds nothing: %s\n", res->user, res->inactive);
                return EXIT_OK;
        }
        if (why) {
                for (size_t i = 0; i < res->n_roles; i++) {
                        const struct roles_resolved_role *role = &res->roles[i];
                        fprintf(f, "role %-27s metarole %s", role->name, role->metarole_code);
                        if (role->until)
                                fprintf(f, role->ended ? ", ended %s: not counted" : ", until %s",
                                        roles_format_time(role->until, when));
                        fputc('\n', f);
                }
                if (res->superuser) {
                        for (size_t m = 0; m < res->n_metaroles; m++)
                                if (strcmp(res->metaroles[m].code, ROLES_METAROLE_SUPER_ADMIN) == 0)
                                        fprintf(f, "%-32s superuser: role %s -> metarole %s\n", "*",
                                                res->roles[res->metaroles[m].via_role].name, ROLES_METAROLE_SUPER_ADMIN);
                }
                for (size_t i = 0; i < res->n_grants; i++) {
                        roles_resolution_path(res, i, path, sizeof(path));
                        fprintf(f, "%-32s %s", res->grants[i].perm, path);
                        if (res->grants[i].disabled)
                                fputs("  (disabled on the role: not granted)", f);
                        else if (res->grants[i].off_by != ROLES_NONE)
                                fprintf(f, "  (switched off by %s, disabled on the role: not granted)",
                                        res->grants[res->grants[i].off_by].perm);
                        fputc('\n', f);
                }
                return EXIT_OK;
        }

        if (res->superuser)
                fputs("* (superuser: every permission)\n", f);
        const char **codes = calloc(res->n_grants + 1, sizeof(char *));
        size_t n = 0;
        if (!codes)
                return cli_fail(EXIT_ERROR, "out of memory");
        for (size_t i = 0; i < res->n_grants; i++)
                if (counts(res, i))
                        codes[n++] = res->grants[i].perm;
        qsort(codes, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++)
                if (i == 0 || strcmp(codes[i], codes[i - 1]) != 0)
                        fprintf(f, "%s\n", codes[i]);
        free(codes);
        return EXIT_OK;
}

static int cmd_perms(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "why", false }, { NULL, false } };
        struct roles_resolution *res = NULL;
        struct roles_snapshot *s;
        struct roles_user u;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, spec, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_snapshot(c, 0, &s)) != EXIT_OK)
                return r;
        if ((r = roles_user_by_name(s, a.pos[0], &u)) < 0 || (r = roles_resolve(s, &u, roles_snapshot_now(s), &res)) < 0)
                return cli_fail_store(c, r);
        if (c->json)
                print_perms_json(c, res, args_opt(&a, 0));
        else
                r = print_perms_text(c, res, args_opt(&a, 0));
        roles_resolution_free(res);
        return c->json ? EXIT_OK : r;
}

static int cmd_audit(struct cli *c, int argc, char **argv) {
        struct args a;
        if (args_parse(c, argc, argv, NULL, 0, &a) < 0)
                return EXIT_USAGE;
        return out_list(c, ROLES_LIST_AUDIT, NULL);
}

/* --since: a time as --expires takes one (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z in UTC, @EPOCH), or
 * -N[smhdw], that long ago. */
static int parse_since(const char *v, time_t now, int64_t *ret) {
        char ahead[32];
        int64_t t;
        if (v[0] != '-')
                return roles_parse_time(v, now, ret);
        if (snprintf(ahead, sizeof(ahead), "+%s", v + 1) >= (int) sizeof(ahead) || roles_parse_time(ahead, now, &t) < 0)
                return -EINVAL;
        *ret = (int64_t) now - (t - (int64_t) now);
        return 0;
}

/* The login audit (state.db), as lastb(1) shows failed logins and last(1) the others. */
static int cmd_logins(struct cli *c, int argc, char **argv) {
        enum { O_USER, O_FAILED, O_SINCE };
        static const struct opt_spec spec[] = {
                [O_USER] = { "user", true }, [O_FAILED] = { "failed", false }, [O_SINCE] = { "since", true },
                { NULL, false },
        };
        struct roles_list_filter filter = { 0 };
        struct args a;
        if (args_parse(c, argc, argv, spec, 0, &a) < 0)
                return EXIT_USAGE;
        /* Not necessarily an account: the audit keeps the names refused logins gave. */
        if ((filter.arg = args_opt(&a, O_USER)) && !roles_name_valid(filter.arg))
                return cli_fail(EXIT_USAGE, "invalid user name '%.40s'", filter.arg);
        filter.only_failures = args_opt(&a, O_FAILED) != NULL;
        const char *since = args_opt(&a, O_SINCE);
        if (since && parse_since(since, time(NULL), &filter.since) < 0)
                return cli_fail(EXIT_USAGE, "invalid time '%.32s': use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z (UTC), "
                                "@EPOCH or -N[smhdw] (that long ago)", since);
        /* With a source, every host's logins, as their outboxes shipped them to PostgreSQL. */
        if (c->cfg.source[0])
                return cli_fleet_list(c, ROLES_FLEET_LOGINS, &filter);
        return out_list_filtered(c, ROLES_LIST_LOGINS, &filter);
}

/* The fleet's hosts as their agents last reported: only PostgreSQL knows them. */
static int cmd_fleet_status(struct cli *c, int argc, char **argv) {
        const struct roles_list_filter filter = { 0 };
        struct args a;
        if (args_parse(c, argc, argv, NULL, 0, &a) < 0)
                return EXIT_USAGE;
        if (!c->cfg.source[0])
                return cli_fail(EXIT_USAGE, "fleet status needs a source (roles.conf's 'source' or --source)");
        return cli_fleet_list(c, ROLES_FLEET_HOSTS, &filter);
}

/* The fleet's own objects brought to this build's version: only with a source, and explicitly
 * (README.md, "Upgrading a fleet"). */
static int cmd_fleet_upgrade(struct cli *c, int argc, char **argv) {
        struct args a;
        if (args_parse(c, argc, argv, NULL, 0, &a) < 0)
                return EXIT_USAGE;
        if (!c->cfg.source[0])
                return cli_fail(EXIT_USAGE, "fleet upgrade needs a source (roles.conf's 'source' or --source)");
        return cli_fleet_upgrade(c);
}

/* The role a fleet host ships its outbox as, which backup records and restore compares (NULL:
 * not a fleet host). */
static const char *host_role(const struct cli *c, char buf[static ROLES_HOST_ROLE_MAX + 1]) {
        return roles_fleet_host_role(c->cfg.source, buf) < 0 ? NULL : buf;
}

static int cmd_backup(struct cli *c, int argc, char **argv) {
        char role[ROLES_HOST_ROLE_MAX + 1];
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        r = roles_writer_backup(s, a.pos[0], host_role(c, role));
        /* A missing directory for FILE is a file error (5), not "not found" (3), as for batch FILE. */
        if (r == -ENOENT)
                return cli_fail(EXIT_ERROR, "%s", roles_writer_error(s));
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

/* The archive is the writer's to read and check (roles_writer_restore): here only what to say. */
static int cmd_restore(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "other-host", false }, { NULL, false } };
        char role[ROLES_HOST_ROLE_MAX + 1];
        struct roles_restore_result res;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, spec, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        const char *host = host_role(c, role);
        bool other_host = args_opt(&a, 0) != NULL;
        if ((r = roles_writer_restore(s, a.pos[0], host, other_host, &res)) < 0)
                return cli_fail_store(c, r);
        if (c->json) {
                cli_answer_text(c, "sha256", res.sha256);
                cli_answer_number(c, "users", res.users);
                cli_answer_number(c, "groups", res.groups);
                cli_answer_number(c, "serial", res.serial);
                cli_answer_raw(c, "state");
                fputs(res.with_state ? "true" : "false", c->out);
                if (res.archive_host[0])
                        cli_answer_text(c, "archive_host", res.archive_host);
                cli_answer_number(c, "outbox_dropped", res.outbox_dropped);
                cli_answer_text(c, "host_state", res.host_state_live ? "live" : "archive");
                return EXIT_OK;
        }
        fprintf(c->out, "restored %s (sha256 %s): %lld user%s, %lld group%s%s\n", a.pos[0], res.sha256,
                (long long) res.users, res.users == 1 ? "" : "s", (long long) res.groups,
                res.groups == 1 ? "" : "s", res.with_state ? "" : "; state.db was not in it: an empty one");
        if (!res.host_state_live)
                return EXIT_OK;
        char why[3 * ROLES_HOST_ROLE_MAX + 128];
        if (other_host)
                snprintf(why, sizeof(why), "restored with --other-host");
        else if (!res.archive_host[0])
                snprintf(why, sizeof(why), "the archive does not say which fleet host wrote it");
        else if (!host || !host[0])
                snprintf(why, sizeof(why), "the archive is host %s's, and this host's source names no user to compare",
                         res.archive_host);
        else
                snprintf(why, sizeof(why), "the archive is host %s's, not this host's (%s)", res.archive_host, host);
        bool other = !other_host && res.archive_host[0] && host && host[0];
        if (res.outbox_dropped)
                fprintf(c->out, "not kept: the archive's %lld unshipped outbox event%s: %s%s%s\n",
                        (long long) res.outbox_dropped, res.outbox_dropped == 1 ? "" : "s", why,
                        other ? ": the fleet has them from " : "", other ? res.archive_host : "");
        fprintf(c->out, "kept: this host's login tracking and login audit, not the archive's, and its lockout tallies "
                "beside the archive's: %s\n", why);
        return EXIT_OK;
}

struct findings {
        struct cli *c;
        unsigned n;
};

static void print_finding(void *userdata, const char *line) {
        struct findings *f = userdata;
        if (f->c->json) {
                fputs(f->n ? "," : "", f->c->out);
                out_json_string(f->c->out, line);
        } else
                fprintf(f->c->out, "%s\n", line);
        f->n++;
}

static int cmd_doctor(struct cli *c, int argc, char **argv) {
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 0, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        struct findings f = { c, 0 };
        if (c->json) {
                cli_answer_raw(c, "findings");
                fputc('[', c->out);
        }
        r = roles_writer_doctor(s, print_finding, &f);
        if (r < 0)
                return cli_fail_store(c, r);
        r += (int) doctor_sudo_group_source(roles_writer_snapshot(s), print_finding, &f);
        if (c->json)
                fputc(']', c->out);
        else if (r == 0)
                fputs("no problems found\n", c->out);
        return EXIT_OK;
}

/*
 * --if-stale: the boot's check (roles-index.service). roles.db's commit and roles.nss's rename
 * are two steps; power lost between them leaves NSS serving the state before the change (a
 * removal from a published metarole group still granting sudo) until the next writer. Before
 * `rolesctl init` there is nothing to compile, and a host without roles must boot quietly; but
 * an index without its roles.db is refused, not served on in silence.
 */
static int index_absent_db(struct cli *c, bool *ret_absent) {
        char nss[PATH_MAX];
        if (access(c->cfg.public_db, F_OK) == 0 || errno != ENOENT) {
                *ret_absent = false;
                return EXIT_OK;
        }
        if (roles_config_index_path(&c->cfg, false, nss, sizeof(nss)) < 0)
                return cli_fail(EXIT_ERROR, "%s: path too long", c->cfg.public_db);
        if (access(nss, F_OK) == 0 || errno != ENOENT)
                return cli_fail(EXIT_ERROR, "%s does not exist, but NSS's index %s does: restore roles.db "
                                "(rolesctl restore)", c->cfg.public_db, nss);
        *ret_absent = true;
        return EXIT_OK;
}

/* roles.nss compiled whole from roles.db (after a restore by hand, or to merge the delta); with
 * --if-stale only when it is not roles.db's, and a fresh one left as it is. */
static int cmd_index_rebuild(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "if-stale", false }, { NULL, false } };
        struct roles_writer *s;
        struct args a;
        bool absent;
        int r;
        if (args_parse(c, argc, argv, spec, 0, &a) < 0)
                return EXIT_USAGE;
        bool if_stale = args_opt(&a, 0);
        if (if_stale && (r = index_absent_db(c, &absent)) != EXIT_OK)
                return r;
        if (if_stale && absent) {
                cli_answer_text(c, "index", "no roles.db");
                if (!c->json)
                        fprintf(c->out, "%s does not exist (roles is not initialised): nothing to do\n",
                                c->cfg.public_db);
                return EXIT_OK;
        }
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        r = if_stale ? roles_writer_index_stale(s) : 1;
        if (r < 0)
                return cli_fail_store(c, r);
        if (if_stale) {
                cli_answer_text(c, "index", r ? "compiled anew" : "current");
                if (!c->json)
                        fputs(r ? "roles.nss: of another serial than roles.db: compiled anew\n"
                                : "roles.nss: roles.db's: nothing to do\n", c->out);
        }
        /* (A fresh index is not even asked for: the commit compiles only a stale one.) */
        r = r ? roles_writer_rebuild_index(s) : 0;
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

#define BATCH_ARGS_MAX 64
/* No command needs a longer line (names are 32 bytes, texts 255): a batch that never ends its
 * line (/dev/zero) is refused there, instead of growing memory without bound. */
#define BATCH_LINE_MAX ((size_t) 64 << 10)

/*
 * The next line of in, without its '\n', NUL-terminated in buf (BATCH_LINE_MAX + 1 bytes): 1 and
 * its length, 0 at the end, -E2BIG past BATCH_LINE_MAX bytes, -EIO when reading fails (getline
 * reports a failed allocation as the end: a batch cut short there would be committed).
 */
static int batch_read_line(FILE *in, char *buf, size_t *ret_len) {
        size_t n = 0;
        int ch;
        while ((ch = getc(in)) != EOF && ch != '\n') {
                if (n == BATCH_LINE_MAX)
                        return -E2BIG;
                buf[n++] = (char) ch;
        }
        if (ferror(in))
                return -EIO;
        if (ch == EOF && n == 0)
                return 0;
        buf[n] = '\0';
        *ret_len = n;
        return 1;
}

static int cmd_batch(struct cli *c, int argc, char **argv) {
        struct roles_writer *s;
        struct args a;
        unsigned lineno = 0;
        int r;

        if (args_parse(c, argc, argv, NULL, argc > 0 ? 1 : 0, &a) < 0)
                return EXIT_USAGE;
        char *line = malloc(BATCH_LINE_MAX + 1);
        if (!line)
                return cli_fail(EXIT_ERROR, "out of memory");
        FILE *in = a.n_pos && strcmp(a.pos[0], "-") != 0 ? fopen(a.pos[0], "re") : stdin;
        if (!in) {
                free(line);
                return cli_fail(EXIT_ERROR, "%s: %s", a.pos[0], strerror(errno));
        }

        /* One writer for the whole batch: one snapshot, all or nothing. */
        r = cli_writer(c, 0, &s);
        c->in_batch = true;
        while (r == EXIT_OK) {
                size_t n;
                int k = batch_read_line(in, line, &n);
                if (k == 0)
                        break;
                lineno++;
                if (k == -E2BIG) {
                        r = cli_fail(EXIT_USAGE, "batch line %u: longer than %zu bytes; nothing changed", lineno, BATCH_LINE_MAX);
                        break;
                }
                if (k < 0) {
                        r = cli_fail(EXIT_ERROR, "reading the batch: %s", strerror(errno));
                        break;
                }
                if (memchr(line, '\0', n)) {
                        r = cli_fail(EXIT_USAGE, "batch line %u: NUL byte; nothing changed", lineno);
                        break;
                }
                if (n > 0 && line[n - 1] == '\r')     /* a file written on Windows */
                        line[--n] = '\0';
                char *words[BATCH_ARGS_MAX];
                int nw = 0;
                if (args_split_words(line, words, BATCH_ARGS_MAX, &nw) < 0) {
                        r = cli_fail(EXIT_USAGE, "batch line %u: unbalanced quote or too many words; nothing changed", lineno);
                        break;
                }
                if (nw == 0)
                        continue;
                /* The command's own error line names the batch line: one line, as everywhere. */
                cli_fail_batch_line(in == stdin ? NULL : a.pos[0], lineno, words, nw);
                r = cli_dispatch(c, nw, words);
                cli_fail_batch_line(NULL, 0, NULL, 0);
                if (r == EXIT_NO)
                        r = EXIT_OK;    /* a "no" from check is an answer, not a failure */
        }
        c->in_batch = false;
        free(line);
        if (in != stdin)
                fclose(in);
        return r;
}

const struct command admin_commands[] = {
        { "init", NULL, cmd_init, false,
          "rolesctl init [--admin NAME [--password-stdin | --activation]]",
          "Create the databases, and a first administrator with --admin" },
        { "check", NULL, cmd_check, true,
          "rolesctl check USER PERM",
          "Say whether a user holds a permission now (exit 0 yes, 1 no)" },
        { "perms", NULL, cmd_perms, true,
          "rolesctl perms USER [--why]",
          "List the permissions a user holds, with --why through what" },
        { "audit", NULL, cmd_audit, true,
          "rolesctl audit",
          "Show the audit log of every change" },
        { "logins", NULL, cmd_logins, true,
          "rolesctl logins [--user NAME] [--failed] [--since TIME]",
          "Show the login audit: logins, refusals, password changes (lastb for roles), every host's with a source" },
        { "fleet", "status", cmd_fleet_status, false,
          "rolesctl fleet status",
          "List the fleet's hosts: serial installed, lag, outbox depth, last contact (needs a source)" },
        { "fleet", "upgrade", cmd_fleet_upgrade, false,
          "rolesctl fleet upgrade",
          "Bring an older fleet's schema in PostgreSQL to this build's version (needs a source)" },
        { "backup", NULL, cmd_backup, false,
          "rolesctl backup FILE",
          "Write the three databases, consistent, to one tar archive" },
        { "restore", NULL, cmd_restore, false,
          "rolesctl restore FILE [--other-host]",
          "Put a backup's three databases back in place, checked, under the writer lock" },
        { "batch", NULL, cmd_batch, false,
          "rolesctl batch [FILE]",
          "Run command lines from FILE or stdin as one change: all or nothing" },
        { "doctor", NULL, cmd_doctor, false,
          "rolesctl doctor",
          "Check the databases and the host's setup, and repair what can be" },
        { "import", NULL, cmd_import, false,
          "rolesctl import [--passwd FILE] [--group FILE] [--shadow FILE]",
          "Take over accounts and groups from passwd, group and shadow files" },
        { "index", "rebuild", cmd_index_rebuild, false,
          "rolesctl index rebuild [--if-stale]",
          "Compile roles.nss, NSS's index, whole from roles.db (with --if-stale only when it lags behind)" },
        { "help", NULL, cmd_help, false,
          "rolesctl help [COMMAND]",
          "Say what a command does and how to call it" },
};
const size_t n_admin_commands = ROLES_N_ELEMENTS(admin_commands);

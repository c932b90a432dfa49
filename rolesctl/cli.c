/* SPDX-License-Identifier: MIT */
/* rolesctl's spine, shared by main and batch: dispatch, the store, and error lines. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fleet.h"
#include "roles-build.h"

static const struct {
        const struct command *commands;
        const size_t *n;
} command_sets[] = {
        { user_commands, &n_user_commands },
        { group_commands, &n_group_commands },
        { metarole_commands, &n_metarole_commands },
        { role_commands, &n_role_commands },
        { admin_commands, &n_admin_commands },
};

/* The batch file and line being run, named in every error it causes; line 0 outside a batch;
 * and the line's words, which its errors must not repeat (see below). */
static const char *fail_batch_file;
static unsigned fail_batch_line;
static char *const *fail_batch_words;
static int fail_batch_nwords;

void cli_fail_batch_line(const char *file, unsigned lineno, char *const *words, int nwords) {
        fail_batch_file = file;
        fail_batch_line = lineno;
        fail_batch_words = words;
        fail_batch_nwords = nwords;
}

/*
 * A batch is a file, and the wrong file may be given (/etc/shadow, a list of codes): its words
 * could be secrets. So in a batch, an error line never repeats a word of the line that is not a
 * valid name, permission code or option name (nor a long prefix of one: a message may cut a
 * value short), wherever it stands, and never a quoted word that is not one either; it names
 * the file, the line and what was wrong with the word.
 */
#define NOT_SHOWN "(a value, not shown)"
#define PREFIX_MIN 6

static bool word_shown(const char *word) {
        return roles_name_valid(word) || roles_perm_valid(word, true) ||
               (strncmp(word, "--", 2) == 0 && roles_name_valid(word + 2));
}

/* Every occurrence of needle[0..n) in msg replaced by NOT_SHOWN, in place (msg holds size). */
static void hide_all(char *msg, size_t size, const char *needle, size_t n) {
        char out[2048];
        size_t len = 0;
        for (const char *p = msg; *p && len + 1 < sizeof(out);) {
                if (strncmp(p, needle, n) == 0) {
                        len += (size_t) snprintf(out + len, sizeof(out) - len, "%s", NOT_SHOWN);
                        if (len >= sizeof(out))
                                len = sizeof(out) - 1;
                        p += n;
                } else
                        out[len++] = *p++;
        }
        if (len >= size)
                len = size - 1;
        memcpy(msg, out, len);
        msg[len] = '\0';
}

static void hide_line_words(char *msg, size_t size) {
        for (int i = 0; i < fail_batch_nwords; i++) {
                const char *w = fail_batch_words[i];
                size_t n = strlen(w);
                if (n < 3 || word_shown(w))
                        continue;
                for (size_t k = n; k >= (n < PREFIX_MIN ? n : PREFIX_MIN); k--)
                        if (memmem(msg, strlen(msg), w, k))
                                hide_all(msg, size, w, k);
        }
}

static void redact_quoted(const char *msg, char *out, size_t size) {
        size_t len = 0;
        for (const char *in = msg; *in && len + 1 < size;) {
                const char *close = *in == '\'' ? strchr(in + 1, '\'') : NULL;
                if (!close) {
                        out[len++] = *in++;
                        continue;
                }
                size_t n = (size_t) (close - in - 1);
                char word[ROLES_PERM_MAX + 1] = "";
                if (n < sizeof(word)) {
                        memcpy(word, in + 1, n);
                        word[n] = '\0';
                }
                /* Names, permission codes and option names (--full-name) are shown. */
                bool shown = n < sizeof(word) && word_shown(word);
                len += (size_t) snprintf(out + len, size - len, shown ? "'%s'" : NOT_SHOWN, word);
                if (len >= size)
                        len = size - 1;
                in = close + 1;
        }
        out[len] = '\0';
}

static bool fail_json;

void cli_fail_json(bool json) {
        fail_json = json;
}

int cli_fail(int exit_code, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        char shown[sizeof(msg)], line[sizeof(msg) + 1024];
        size_t n = 0;
        if (fail_batch_line > 0) {
                hide_line_words(msg, sizeof(msg));
                redact_quoted(msg, shown, sizeof(shown));
                if (fail_batch_file)
                        n += (size_t) snprintf(line + n, sizeof(line) - n, "%.900s: ", fail_batch_file);
                n += (size_t) snprintf(line + n, sizeof(line) - n, "batch line %u: ", fail_batch_line);
        }
        snprintf(line + n, sizeof(line) - n, "%s%s", fail_batch_line > 0 ? shown : msg,
                 fail_batch_line > 0 ? "; nothing changed" : "");
        /* Always exactly one line: a name that carries a newline or an escape is shown escaped. */
        if (fail_json) {
                fprintf(stderr, "{\"ok\":false,\"exit\":%d,\"error\":", exit_code);
                out_json_string(stderr, line);
                fputs("}\n", stderr);
        } else {
                fputs("rolesctl: ", stderr);
                out_text(stderr, line);
                fputc('\n', stderr);
        }
        return exit_code;
}

int cli_exit_code(int r) {
        switch (r) {
        case 0:
                return EXIT_OK;
        case -EINVAL:
        case -ERANGE:
        case -ENAMETOOLONG:
        case -E2BIG:
                return EXIT_USAGE;
        case -ENOENT:
                return EXIT_NOT_FOUND;
        case -EEXIST:
        case -EBUSY:
        case -ELOOP:
        case -EALREADY:
                return EXIT_CONFLICT;
        default:
                return EXIT_ERROR;
        }
}

const char *cli_store_error(const struct cli *c, int r) {
        return c->writer ? roles_writer_error(c->writer) : c->snapshot ? roles_snapshot_error(c->snapshot) : strerror(-r);
}

int cli_fail_store(struct cli *c, int r) {
        return cli_fail(cli_exit_code(r), "%s", cli_store_error(c, r));
}

/* The files are read by the first check that needs them; the store shares the same set. */
static struct host_accounts *host_files(struct cli *c) {
        if (!c->host.passwd.path)
                host_accounts_init(&c->host, &HOST_PATHS_ALL);
        return &c->host;
}

int cli_host(struct cli *c, const struct host_accounts **ret) {
        int r = host_accounts_refresh(host_files(c));
        if (r < 0)
                return cli_fail(EXIT_ERROR, "cannot read %s to see what the host's own accounts are: %s",
                                c->host.failed, strerror(-r));
        *ret = &c->host;
        return EXIT_OK;
}

#define NSSWITCH_PATH "/etc/nsswitch.conf"
#define SPACE " \t\n\v\f\r"         /* isspace() in the C locale, as glibc reads nsswitch.conf */

/* Are the ranges the roles NSS module serves inside ours? It reads roles.conf as
 * roles_config_path(NULL) names it (nss_roles/nss_state.c), defaults when the default file is
 * missing; so does this. */
static bool roles_module_within(const struct cli *c, bool group) {
        const char *path = roles_config_path(NULL);
        struct roles_config m;
        roles_config_defaults(&m);
        int r = roles_config_load(path, &m, NULL, 0);
        if (r < 0 && !(r == -ENOENT && strcmp(path, ROLES_DEFAULT_CONF) == 0))
                return false;
        return group ? m.gid_min >= c->cfg.gid_min && m.gid_max <= c->cfg.gid_max
                     : m.uid_min >= c->cfg.uid_min && m.uid_max <= c->cfg.uid_max;
}

/* The services of a database's line ("files [NOTFOUND=return] roles"), split as glibc splits
 * them: true when each is files, or roles serving inside our ranges. Actions in brackets are
 * skipped; '#' is no comment there, but a service like any other word. */
static bool spec_files_only(const struct cli *c, const char *p, bool group) {
        for (;;) {
                p += strspn(p, SPACE);
                if (!*p)
                        return true;
                if (*p == '[') {
                        const char *close = strchr(p, ']');
                        if (!close)
                                return false;
                        p = close + 1;
                        continue;
                }
                size_t n = strcspn(p, SPACE "[");
                if (!((n == 5 && strncmp(p, "files", 5) == 0) ||
                      (n == 5 && strncmp(p, "roles", 5) == 0 && roles_module_within(c, group))))
                        return false;
                p += n;
        }
}

/*
 * Whether a name must be asked of NSS beyond the host's files: not when nsswitch.conf's one line
 * for the database names no service but files, which the host's files read directly answer
 * (more strictly: whatever the id), and roles, whose every answer is inside the ranges its
 * module reads, when those lie inside ours (an answer inside our ranges is roles' own). Anything
 * else or unclear (no file, so glibc's default; no line or two; a line too long; another
 * service) asks, as always. Lines are read as glibc reads them: the database's name (compared
 * exactly), then blanks or ':', then the services.
 * Asking is a lookup through every service: 12 µs a name with files alone, 150 µs with
 * nss_systemd (without systemd running, it searches five drop-in directories per call), so an
 * import of a million users and as many groups would spend minutes on it for nothing.
 */
static bool nss_beyond_files(struct cli *c, bool group) {
        const char *db = group ? "group" : "passwd";
        if (c->nss_others[group] != NSS_UNKNOWN)
                return c->nss_others[group] == NSS_ASK;
        FILE *f = fopen(NSSWITCH_PATH, "re");
        char line[1024];
        int lines = 0;
        bool files_only = f != NULL;
        while (f && fgets(line, sizeof(line), f)) {
                size_t len = strlen(line);
                if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
                        files_only = false;     /* too long to judge */
                        break;
                }
                const char *p = line + strspn(line, SPACE);
                size_t n = strcspn(p, SPACE ":");
                if (n == 0 || !p[n] || n != strlen(db) || strncmp(p, db, n) != 0)
                        continue;
                p += n;
                lines++;
                files_only = files_only && spec_files_only(c, p + strspn(p, SPACE ":"), group);
        }
        if (f)
                fclose(f);
        c->nss_others[group] = files_only && lines == 1 ? NSS_FILES_ONLY : NSS_ASK;
        return c->nss_others[group] == NSS_ASK;
}

int cli_check_local_name(struct cli *c, const char *name, bool group) {
        const struct host_accounts *h;
        int r = cli_host(c, &h);
        return r != EXIT_OK ? r : cli_check_local_name_in(c, h, name, group);
}

int cli_check_local_name_in(struct cli *c, const struct host_accounts *h, const char *name, bool group) {
        /* The host's own files, read directly: whatever id it has there, the name is the host's
         * (host_accounts.h). Read here, not only through getpwnam: when glibc's files service
         * cannot read its file it moves on to the next service, whose "not found" would pass. */
        if (group ? host_accounts_has_group(h, name) : host_accounts_has_user(h, name))
                return cli_fail(EXIT_CONFLICT, "'%s' is a local %s on this host (%s): a roles %s of that name would "
                                "never be served", name, group ? "group" : "account",
                                group ? HOST_GROUP_PATH : HOST_PASSWD_PATH, group ? "group" : "user");
        /* Then every other service in nsswitch.conf (LDAP, SSSD, ...), roles too: an answer inside
         * roles' ranges is roles' own (or will be refused as a duplicate by the store). */
        if (!nss_beyond_files(c, group))
                return EXIT_OK;
        unsigned long id = 0;
        bool found;
        if (group) {
                struct group *gr = getgrnam(name);
                if ((found = gr != NULL))
                        id = gr->gr_gid;
        } else {
                struct passwd *pw = getpwnam(name);
                if ((found = pw != NULL))
                        id = pw->pw_uid;
        }
        if (found && group && (id < c->cfg.gid_min || id > c->cfg.gid_max))
                return cli_fail(EXIT_CONFLICT, "'%s' is a local group on this host (gid %lu): a roles group of "
                                "that name would be hidden by it and lend it its members", name, id);
        if (found && !group && (id < c->cfg.uid_min || id > c->cfg.uid_max))
                return cli_fail(EXIT_CONFLICT, "'%s' is a local account on this host (uid %lu): a roles user of "
                                "that name would be hidden by it and lend it their groups", name, id);
        return EXIT_OK;
}

int cli_check_local_id(struct cli *c, uint32_t id, bool group) {
        const struct host_accounts *h;
        /* An id outside the configured range is a bad value, which the store says first. */
        if (id < (group ? c->cfg.gid_min : c->cfg.uid_min) || id > (group ? c->cfg.gid_max : c->cfg.uid_max))
                return EXIT_OK;
        int r = cli_host(c, &h);
        if (r != EXIT_OK)
                return r;
        if (group ? host_accounts_has_gid(h, id) : host_accounts_has_uid(h, id))
                return cli_fail(EXIT_CONFLICT, "%s %u belongs to a local %s on this host (%s): a roles %s with it "
                                "would never be served", group ? "gid" : "uid", id, group ? "group" : "account",
                                group ? h->group.path : h->passwd.path, group ? "group" : "user");
        if (group && host_accounts_has_primary_gid(h, id))
                return cli_fail(EXIT_CONFLICT, "gid %u is the primary gid of a local account on this host (%s): a "
                                "roles group with it would share that account's files", id, h->passwd.path);
        /* Not an account, but the host hands it out: the owner's containers map their ids there. */
        const struct host_id_range *sub = host_accounts_subid_range(h, id, group);
        if (sub)
                return cli_fail(EXIT_CONFLICT, "%s %u is in the subordinate range %u-%u of %s: a roles %s with it "
                                "would share ids with containers", group ? "gid" : "uid", id, sub->first, sub->last,
                                group ? h->subgid.path : h->subuid.path, group ? "group" : "user");
        return EXIT_OK;
}

static int fail_open(int r, const char *err) {
        return cli_fail(cli_exit_code(r) == EXIT_NOT_FOUND ? EXIT_ERROR : cli_exit_code(r), "%s", err);
}

int cli_writer(struct cli *c, unsigned flags, struct roles_writer **ret) {
        char err[512];
        if (c->writer) {
                c->running.changed = true;
                *ret = c->writer;
                return EXIT_OK;
        }
        /* A snapshot of this process would keep the writer from opening roles.db (snapshot.h). */
        roles_snapshot_close(c->snapshot);
        c->snapshot = NULL;
        int r = roles_writer_open(&c->cfg, flags, &c->writer, err, sizeof(err));
        if (r < 0)
                return fail_open(r, err);
        c->running.changed = true;
        roles_writer_set_host_accounts(c->writer, host_files(c));
        r = roles_writer_set_actor(c->writer, c->actor);
        if (r >= 0 && c->fleet)
                r = roles_writer_push_to(c->writer, c->fleet);
        if (r < 0)
                return cli_fail_store(c, r);
        *ret = c->writer;
        return EXIT_OK;
}

int cli_snapshot(struct cli *c, unsigned flags, struct roles_snapshot **ret) {
        char err[512];
        if (c->writer) {
                *ret = roles_writer_snapshot(c->writer);
                return EXIT_OK;
        }
        if (c->snapshot && (c->snapshot_flags & flags) == flags) {
                *ret = c->snapshot;
                return EXIT_OK;
        }
        roles_snapshot_close(c->snapshot);
        c->snapshot = NULL;
        int r = roles_snapshot_open(&c->cfg, flags, &c->snapshot, err, sizeof(err));
        if (r < 0)
                return fail_open(r, err);
        c->snapshot_flags = flags;
        *ret = c->snapshot;
        return EXIT_OK;
}

int cli_finish(struct cli *c, int r) {
        if (r == EXIT_OK && c->writer) {
                int k = roles_writer_commit(c->writer);
                c->published = k >= 0 || (c->fleet && roles_writer_pushed(c->writer) > 0);
                if (k == -EAGAIN && c->fleet)
                        r = EXIT_FLEET_AGAIN;   /* nothing changed anywhere: run it again */
                else if (k < 0 && c->fleet && roles_writer_pushed(c->writer) > 0)
                        /* Done where it counts; only our copy lags, and catches up next time. */
                        fprintf(stderr, "rolesctl: the change is in the fleet (serial %lld), but this copy of the "
                                "fleet's files was not updated: %s\n", (long long) roles_writer_pushed(c->writer),
                                cli_store_error(c, k));
                else if (k < 0)
                        r = cli_fail_store(c, k);
        }
        roles_writer_close(c->writer);
        roles_snapshot_close(c->snapshot);
        c->writer = NULL;
        c->snapshot = NULL;
        return r;
}

size_t cli_n_commands(void) {
        size_t n = 0;
        for (size_t s = 0; s < ROLES_N_ELEMENTS(command_sets); s++)
                n += *command_sets[s].n;
        return n;
}

const struct command *cli_command(size_t i) {
        for (size_t s = 0; s < ROLES_N_ELEMENTS(command_sets); s++) {
                if (i < *command_sets[s].n)
                        return &command_sets[s].commands[i];
                i -= *command_sets[s].n;
        }
        return NULL;
}

const struct command *cli_find_command(int argc, char *const *argv, int *ret_words) {
        for (size_t i = 0; argc >= 1 && i < cli_n_commands(); i++) {
                const struct command *cmd = cli_command(i);
                if (strcmp(cmd->noun, argv[0]) != 0 || (cmd->verb && (argc < 2 || strcmp(cmd->verb, argv[1]) != 0)))
                        continue;
                *ret_words = cmd->verb ? 2 : 1;
                return cmd;
        }
        return NULL;
}

int cli_load_config(struct roles_config *cfg, const char *explicit_path, char *err, size_t errlen) {
        const char *path = roles_config_path(explicit_path);
        roles_config_defaults(cfg);
        int r = roles_config_load(path, cfg, err, errlen);
        /* Only the built-in default may be missing: every key has a default. */
        if (r == -ENOENT && path == roles_config_path(NULL) && !explicit_path && !secure_getenv("ROLES_CONF"))
                return 0;
        return r < 0 ? r : 0;
}

int cli_global_option(const char *arg) {
        if (strcmp(arg, "--json") == 0 || strncmp(arg, "--conf=", 7) == 0 || strncmp(arg, "--source=", 9) == 0)
                return 1;
        return strcmp(arg, "--conf") == 0 || strcmp(arg, "--source") == 0 ? 2 : 0;
}

/* The JSON name of positional i of cmd: its usage's placeholder ("GROUP USER") in lower case,
 * NAME being the noun's ("user"), CODE a metarole's and PERM a permission; NULL for a literal
 * word ("enroll|disable") or an optional one ("[FILE]"). */
static const char *positional_key(const struct command *cmd, size_t i, char *buf, size_t size) {
        const char *p = cmd->usage;
        size_t at = i + (cmd->verb ? 3 : 2);   /* after "rolesctl NOUN [VERB]" */
        for (size_t w = 0;; w++) {
                p += strspn(p, " ");
                size_t n = strcspn(p, " ");
                if (n == 0 || *p == '[' || *p == '-')
                        return NULL;
                if (w < at) {
                        p += n;
                        continue;
                }
                if (n >= size || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
                        return NULL;
                if (n == 4 && strncmp(p, "NAME", 4) == 0)
                        return cmd->noun;
                if (n == 4 && strncmp(p, "CODE", 4) == 0)
                        return "metarole";
                if (n == 4 && strncmp(p, "PERM", 4) == 0)
                        return "permission";
                for (size_t k = 0; k < n; k++)
                        buf[k] = (char) (p[k] - 'A' + 'a');
                buf[n] = '\0';
                return buf;
        }
}

/* {"ok":true,"action":"user.add","user":"alice" once, before the command's own members. */
static void answer_begin(struct cli *c) {
        const struct command *cmd = c->running.cmd;
        if (c->running.answer_open)
                return;
        c->running.answer_open = true;
        fprintf(c->out, "{\"ok\":true,\"action\":\"%s%s%s\"", cmd->noun, cmd->verb ? "." : "", cmd->verb ? cmd->verb : "");
        for (size_t i = 0; i < c->running.n_pos; i++) {
                char buf[32];
                const char *key = positional_key(cmd, i, buf, sizeof(buf));
                if (!key)
                        continue;
                fprintf(c->out, ",\"%s\":", key);
                out_json_string(c->out, c->running.pos[i]);
        }
}

static bool answer_key(struct cli *c, const char *key) {
        if (!c->json || !c->running.cmd)
                return false;
        answer_begin(c);
        fprintf(c->out, ",\"%s\":", key);
        return true;
}

void cli_answer_text(struct cli *c, const char *key, const char *value) {
        if (answer_key(c, key))
                out_json_string(c->out, value);
}

void cli_answer_number(struct cli *c, const char *key, long long value) {
        if (answer_key(c, key))
                fprintf(c->out, "%lld", value);
}

void cli_answer_raw(struct cli *c, const char *key) {
        answer_key(c, key);
}

int cli_dispatch(struct cli *c, int argc, char **argv) {
        int words;
        if (argc < 1)
                return cli_fail(EXIT_USAGE, "missing command; see 'rolesctl help'");
        /* A batch is one change to one set of databases with one form of output: both are said on
         * rolesctl's own command line, for the whole batch. */
        for (int i = 0; c->in_batch && i < argc && strcmp(argv[i], "--") != 0; i++)
                if (cli_global_option(argv[i]))
                        return cli_fail(EXIT_USAGE, "'%s' is for the whole batch: give it on rolesctl's command line, "
                                        "not in a batch line", strncmp(argv[i], "--conf", 6) == 0 ? "--conf"
                                        : strncmp(argv[i], "--source", 8) == 0 ? "--source" : argv[i]);
        const struct command *cmd = cli_find_command(argc, argv, &words);
        if (!cmd)
                return cli_unknown_command(c, argc, argv);
        if (c->in_batch && !cmd->batchable)
                return cli_fail(EXIT_USAGE, "'%s%s%s' cannot run inside a batch", cmd->noun, cmd->verb ? " " : "",
                                cmd->verb ? cmd->verb : "");
        if (cli_help_asked(argc - words, argv + words)) {
                cli_help_command(c->out, cmd);
                return EXIT_OK;
        }
        /* A batch line runs inside batch: its usage and answer are the line's, then batch's again. */
        struct cli_running outer = c->running;
        c->running = (struct cli_running) { .cmd = cmd };
        int r = cmd->run(c, argc - words, argv + words);
        if (r == EXIT_OK && c->json && (c->running.changed || c->running.answer_open)) {
                answer_begin(c);
                fputs("}\n", c->out);
        }
        c->running = outer;
        return r;
}

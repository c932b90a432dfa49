/* SPDX-License-Identifier: MIT */
/* What rolesctl's command files share: the command table, argument parsing, output. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "authz.h"
#include "config.h"
#include "fleet.h"
#include "host_accounts.h"
#include "writer.h"

/* Exit codes (README "Exit status"). */
enum {
        EXIT_OK = 0,
        EXIT_NO = 1,            /* check: the user does not hold the permission */
        EXIT_USAGE = 2,         /* bad command line or invalid value */
        EXIT_NOT_FOUND = 3,
        EXIT_CONFLICT = 4,      /* already exists, in use, would make a cycle */
        EXIT_ERROR = 5,      /* anything else: files, permissions, database */
        /* not an exit code: another change took the fleet's next serial first (fleet.c) */
        EXIT_FLEET_AGAIN = 100,
};

#define ARGS_POS_MAX 4

struct roles_fleet;

struct cli {
        struct roles_config cfg;
        struct roles_fleet *fleet;              /* with a source: where changes are pushed (fleet.c) */
        struct roles_writer *writer;            /* a change, committed once the command succeeds */
        struct roles_snapshot *snapshot;        /* a read command's (never open beside a writer) */
        unsigned snapshot_flags;
        bool json;
        bool in_batch;
        char actor[128];
        /* The command running (args_parse's usage, help) and its answer under --json: a batch
         * line runs inside batch, which keeps its own while the line runs (cli_dispatch). */
        struct cli_running {
                const struct command *cmd;
                /* Its positionals as args_parse found them, named in the answer (cli_answer_*). */
                const char *pos[ARGS_POS_MAX];
                size_t n_pos;
                /* changed: it opened the writer; answer_open: the answer's object is begun in
                 * c->out. */
                bool changed, answer_open;
        } running;
        FILE *out;              /* everything for stdout; printed once the change is published */
        bool published;         /* cli_finish committed the change: output lost after it must say so */
        struct host_accounts host;      /* read by the first check that needs it (cli_host) */
        /* cli_check_local_name: whether another name service must be asked about a user name
         * ([0]) and a group name ([1]); 0 until nsswitch.conf was read */
        enum { NSS_UNKNOWN, NSS_ASK, NSS_FILES_ONLY } nss_others[2];
};

/* Open (once) the writer (flags: ROLES_WRITER_*) or a snapshot with at least these
 * ROLES_SNAPSHOT_* flags (the writer's view when one is open: a batch reads its own change).
 * EXIT_OK, or the exit code with the reason printed. */
int cli_writer(struct cli *c, unsigned flags, struct roles_writer **ret);
int cli_snapshot(struct cli *c, unsigned flags, struct roles_snapshot **ret);

/*
 * The host's own accounts and ids (host_accounts.h), read again if one of their files changed;
 * the store allocates around the same set. EXIT_OK, or the exit code with the reason printed (a
 * file that cannot be read).
 */
int cli_host(struct cli *c, const struct host_accounts **ret);

/*
 * Refuse a new user (group) name that the host's own files hold, or that another name service
 * resolves to an account (group) outside roles' ranges: the host's entry would win every lookup
 * while roles' groups (or members) attached themselves to it. /etc/passwd or /etc/group that
 * cannot be read is an error, not "not there". EXIT_OK or the exit code, printed.
 */
int cli_check_local_name(struct cli *c, const char *name, bool group);
/* The same against the host's accounts as h holds them (from cli_host): for many names at once,
 * without looking at the files again for each. */
int cli_check_local_name_in(struct cli *c, const struct host_accounts *h, const char *name, bool group);

/* Refuse a uid (gid) of the configured range that the host's own files hold, or one in a
 * subordinate range of /etc/subuid (/etc/subgid). EXIT_OK or the exit code, printed. */
int cli_check_local_id(struct cli *c, uint32_t id, bool group);

/*
 * Under --json, a change answers with one object: {"ok":true,"action":"user.add","user":"alice",
 * ...}, its positionals named after its usage's (NAME is the noun's, CODE a metarole's, PERM a
 * permission), then what the command added here (the uid it was given, a one-time code). Not
 * under --json these do nothing.
 */
void cli_answer_text(struct cli *c, const char *key, const char *value);
void cli_answer_number(struct cli *c, const char *key, long long value);
/* Only the key: the caller prints its JSON value to c->out (under --json only). */
void cli_answer_raw(struct cli *c, const char *key);

/* Errors as {"ok":false,"exit":N,"error":"..."} lines on stderr (--json), or "rolesctl: ..." lines. */
void cli_fail_json(bool json);

/* The reason the open writer or snapshot gave for r (strerror when none is open). */
const char *cli_store_error(const struct cli *c, int r);
/* Print "rolesctl: <message>" for a store error or a formatted message, return an exit code. */
int cli_fail_store(struct cli *c, int r);
int cli_fail(int exit_code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_code(int r);
/* Name this batch file (NULL: stdin) and line (0: none) in every error printed until it is
 * reset; meanwhile errors do not repeat the line's words, nor quoted words, that are not names,
 * permission codes or option names. */
void cli_fail_batch_line(const char *file, unsigned lineno, char *const *words, int nwords);

/* ---- arguments ------------------------------------------------------------------------- */

#define ARGS_OPT_MAX 12

struct opt_spec {
        const char *name;       /* without the leading "--" */
        bool has_arg;
};

struct args {
        const char *pos[ARGS_POS_MAX];
        size_t n_pos;
        const char *val[ARGS_OPT_MAX];   /* by index in the spec; "" for a flag that is set */
};

/*
 * Parse "--name VALUE", "--name=VALUE", flags and positionals; exactly n_pos positionals are
 * required. Prints one line with the running command's usage (c->cmd) and returns -EINVAL on a
 * bad command line.
 */
int args_parse(struct cli *c, int argc, char **argv, const struct opt_spec *spec, size_t n_pos, struct args *ret);
/* The running command's usage line ("rolesctl user add NAME ..."), for errors that quote it. */
const char *cli_usage(const struct cli *c);

/*
 * Split a batch line into words in place, as a shell would for simple cases: blanks separate,
 * '...' and "..." quote, backslash escapes the next character, '#' starts a comment. -E2BIG
 * past max words, -EINVAL on an unbalanced quote.
 */
int args_split_words(char *line, char **words, int max, int *ret_n);

/*
 * "Did you mean": of the candidates offered, the one closest to word by edit distance (a swap of
 * two neighbours counts one), when close enough to be a typo of it: one edit for words of up to
 * four characters, two for longer ones.
 */
struct suggest {
        const char *word;
        const char *best;
        size_t best_distance;
};
void suggest_init(struct suggest *s, const char *word);
void suggest_offer(struct suggest *s, const char *candidate);
/* The best candidate, or NULL when none is close enough. */
const char *suggest_best(const struct suggest *s);

/* Value of option i, or NULL if not given. */
static inline const char *args_opt(const struct args *a, size_t i) {
        return a->val[i];
}

/* ---- output ---------------------------------------------------------------------------- */

/* A listing printed as an aligned table, or as a JSON array of objects. */
int out_list(struct cli *c, enum roles_listing what, const char *arg);
int out_list_filtered(struct cli *c, enum roles_listing what, const struct roles_list_filter *filter);
/* The same of one of the fleet's own listings (fleet.h), read in PostgreSQL over f. */
int out_list_fleet(struct cli *c, struct roles_fleet *f, enum roles_fleet_listing what,
                   const struct roles_list_filter *filter);

/* "show": one record's fields as "key: value" lines or a JSON object, with sub-listings. */
struct out_section {
        const char *title;
        enum roles_listing what;
        const char *arg;
        bool single;            /* one row, printed as fields; otherwise a list */
};
int out_show(struct cli *c, const struct out_section *sections, size_t n);

/* A string from the database, with control characters and malformed UTF-8 escaped. */
void out_json_string(FILE *f, const char *s);

/*
 * Where a command's output waits until its change is published. It may hold a one-time code or
 * a TOTP secret: every buffer it ever used is wiped before it is freed (open_memstream's
 * realloc would leave copies in freed memory), and the stream has no stdio buffer of its own.
 */
struct out_buffer {
        char *data;
        size_t len, size;
};
FILE *out_buffer_open(struct out_buffer *b);
/* Write it all to fd (not through stdio, whose buffer would keep a copy): 0 or -errno. */
int out_buffer_write(const struct out_buffer *b, int fd);
void out_buffer_free(struct out_buffer *b);
void out_text(FILE *f, const char *s);

/* ---- passwords -------------------------------------------------------------------------- */

/*
 * Read a new password without echo from the terminal (asked twice), or one line from stdin.
 * Checks the configured minimum length and hashes it; the clear text is wiped.
 */
int password_read_and_hash(struct cli *c, bool from_stdin, char ret_hash[static 256]);

/* Make a one-time activation or reset code for u, store its hash, print it (cmd_user.c). */
int cli_issue_code(struct cli *c, struct roles_writer *s, const struct roles_user *u, enum roles_code_kind kind);

/* ---- commands ---------------------------------------------------------------------------- */

typedef int (*command_fn)(struct cli *c, int argc, char **argv);

struct command {
        const char *noun;       /* "user", or the command itself for one-word commands */
        const char *verb;       /* NULL for one-word commands */
        command_fn run;
        bool batchable;
        const char *usage;      /* "rolesctl user add NAME [--uid N] ...": errors and help */
        const char *summary;    /* what it does, one line of `rolesctl help` */
};

extern const struct command user_commands[], group_commands[], metarole_commands[], role_commands[], admin_commands[];
extern const size_t n_user_commands, n_group_commands, n_metarole_commands, n_role_commands, n_admin_commands;

/* rolesctl import (cmd_import.c), listed in admin_commands. */
int cmd_import(struct cli *c, int argc, char **argv);

/* Every command, in the order help lists them: i < cli_n_commands(). */
size_t cli_n_commands(void);
const struct command *cli_command(size_t i);

/* The command argv names and, in ret_words, how many of its words name it (1 or 2); NULL when
 * none does. */
const struct command *cli_find_command(int argc, char *const *argv, int *ret_words);
/* Refuse a command line that names no command (help.c), or show a noun's commands for
 * "NOUN --help". */
int cli_unknown_command(struct cli *c, int argc, char **argv);

/* rolesctl help [COMMAND] (help.c), listed in admin_commands. */
int cmd_help(struct cli *c, int argc, char **argv);
/* Every command with its summary, as `rolesctl help` and `rolesctl --help` print it. */
void cli_help_overview(FILE *f);
/* The command line asks for help (help, or --help or -h before any "--"): it needs no
 * configuration. */
bool cli_help_wanted(int argc, char *const *argv);
/* argv holds --help or -h before any "--": print cmd's help to c->out instead of running it. */
bool cli_help_asked(int argc, char *const *argv);
void cli_help_command(FILE *f, const struct command *cmd);

/*
 * rolesctl help --complete -- WORD...: for a command line's words after "rolesctl", the last
 * being the one under the cursor (maybe ""), the kind of word that goes there ("command",
 * "option", "word", "user", "group", "role", "metarole", "permission", "file", "directory" or
 * "none") on one line, then each candidate that begins with the word. Names are read from
 * roles.db; nothing is printed on stderr, whatever cannot be read.
 */
int cli_complete(struct cli *c, int argc, char **argv);

/* rolesctl's own options, without "--": what stands before a command. NULL-terminated. */
extern const char *const cli_top_options[];

/* The configuration as rolesctl reads it: explicit_path (--conf), else $ROLES_CONF, else the
 * built-in default, which alone may be missing (every key has a default). 0 or -errno, the
 * reason in err (may be NULL). */
int cli_load_config(struct roles_config *cfg, const char *explicit_path, char *err, size_t errlen);

/* Whether arg is one of rolesctl's own options, which stand anywhere on its command line and
 * never in a batch line: 1 for one word (--json, --conf=FILE, --source=CONNINFO), 2 when the next
 * word is its value (--conf FILE, --source CONNINFO), 0 for anything else. */
int cli_global_option(const char *arg);

/* ---- the fleet (fleet.c) ------------------------------------------------------------------ */

/* Whether this command line runs on a local copy of the fleet's files (a source is set, and it is
 * not one of the commands about this host's own files: its lockouts, backups, doctor, index; nor
 * one that reads PostgreSQL directly: fleet status, logins). */
bool cli_fleet_wanted(const struct cli *c, int argc, char *const *argv);
/* Connect, point c->cfg at the local copy of the fleet's files and bring it up to date (init:
 * create the schema there first, if missing). EXIT_OK or the exit code, printed. */
int cli_fleet_begin(struct cli *c, bool init);
/* Before running a command again whose change lost the race for the fleet's next serial: the
 * copy brought up to date after a pause, or the exit code (printed) when it must not run again. */
int cli_fleet_again(struct cli *c, int argc, char *const *argv, unsigned attempt);
void cli_fleet_end(struct cli *c);
/* `user unlock` with a source: the fleet's lock on NAME cleared, on every host at its next round. */
int cli_fleet_unlock(struct cli *c, const char *name);
/* `fleet upgrade`: the fleet's own objects brought to this build's version, and what was done
 * printed (roles_fleet_upgrade). */
int cli_fleet_upgrade(struct cli *c);
/* One of the fleet's own listings (`fleet status`, `logins` with a source), read in PostgreSQL
 * (over c->fleet when a batch has it open, else a connection of its own) and printed as
 * out_list does. EXIT_OK or the exit code, printed. */
int cli_fleet_list(struct cli *c, enum roles_fleet_listing what, const struct roles_list_filter *filter);

/* Run one command line (argv[0] is the noun); used by main and by batch. */
int cli_dispatch(struct cli *c, int argc, char **argv);
/* After the command: commit the writer if it succeeded (r is EXIT_OK), close what is open, and
 * return r, or the commit's failure. */
int cli_finish(struct cli *c, int r);

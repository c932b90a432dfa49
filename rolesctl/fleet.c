/* SPDX-License-Identifier: MIT */
/*
 * rolesctl with a source (roles.conf's `source`, or --source): the same commands, run on a
 * local copy of the fleet's files and pushed to PostgreSQL at commit (fleet.h).
 *
 * The copy lives in fleet_cache, in a directory of its own per source (0700: it holds every
 * secret the administrators may read), brought to the fleet's latest serial before each
 * command with the read path every host uses. A change that loses the race for the next serial
 * changed nothing anywhere: it is run again on a fresh copy, where every check runs again, up to
 * a bound. Commands that read their input (a batch, a password) are not run twice: they fail
 * with one line and change nothing.
 *
 * What belongs to a host rather than the fleet (its lockouts, backups, its own check and index)
 * runs on the host's own files as without a source. An unlock is both: the fleet's lock is
 * cleared everywhere (cli_fleet_unlock), then the host's own, when it has files. What only
 * PostgreSQL holds (the hosts' reports, every host's logins) is read there (cli_fleet_list).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fleet.h"

#define FLEET_ATTEMPTS 30

/* Not run on the copy: about the host's own files, or reading PostgreSQL itself (the fleet's
 * hosts and its logins, which no copy holds: cli_fleet_list). */
static const char *const host_commands[][2] = {
        { "user", "unlock" }, { "user", "locked" }, { "logins", NULL }, { "backup", NULL }, { "restore", NULL },
        { "doctor", NULL }, { "index", "rebuild" }, { "fleet", NULL },
};
static const char *const input_commands[][2] = { { "batch", NULL }, { "user", "passwd" } };

static bool listed(const char *const (*list)[2], size_t n, int argc, char *const *argv) {
        for (size_t i = 0; i < n; i++)
                if (argc >= 1 && strcmp(argv[0], list[i][0]) == 0 &&
                    (!list[i][1] || (argc >= 2 && strcmp(argv[1], list[i][1]) == 0)))
                        return true;
        return false;
}

bool cli_fleet_wanted(const struct cli *c, int argc, char *const *argv) {
        return c->cfg.source[0] && !listed(host_commands, ROLES_N_ELEMENTS(host_commands), argc, argv);
}

/* <fleet_cache>/<16 hex digits of the source's hash>/, made 0700. */
static int cache_dir(const struct cli *c, char *buf, size_t size) {
        unsigned char digest[8];
        char hex[2 * sizeof(digest) + 1];
        crypto_generichash(digest, sizeof(digest), (const unsigned char *) c->cfg.source, strlen(c->cfg.source), NULL, 0);
        sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
        struct stat st;
        if (mkdir(c->cfg.fleet_cache, 0700) < 0 && errno != EEXIST)
                return cli_fail(EXIT_ERROR, "%s: %s", c->cfg.fleet_cache, strerror(errno));
        /* Whoever may write fleet_cache may swap our directory in it for a link between our
         * check below and the opens: it must be ours, and no one else's to write. */
        if (lstat(c->cfg.fleet_cache, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
                return cli_fail(EXIT_ERROR, "%s: refusing a fleet_cache that is not a directory of ours that only we "
                                "may write", c->cfg.fleet_cache);
        if (snprintf(buf, size, "%s/fleet-%s", c->cfg.fleet_cache, hex) >= (int) size)
                return cli_fail(EXIT_ERROR, "%s: path too long", c->cfg.fleet_cache);
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                return cli_fail(EXIT_ERROR, "%s: %s", buf, strerror(errno));
        if (lstat(buf, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
                return cli_fail(EXIT_ERROR, "%s: refusing a copy of the fleet's files in a directory that is not "
                                "ours alone (0700)", buf);
        return EXIT_OK;
}

static int refresh(struct cli *c) {
        static bool said;       /* once a command, not at each run again after a lost race */
        struct roles_fleet_sync_result res;
        int r = roles_fleet_sync(c->fleet, &c->cfg, ROLES_FLEET_SYNC_ADMIN, &res);
        if (r < 0)
                return cli_fail(r == -ECONNREFUSED || r == -ECONNRESET ? EXIT_ERROR : cli_exit_code(r), "%s",
                                roles_fleet_error(c->fleet));
        /* Changes go on (the tables are this build's); what hosts write to the fleet does not. */
        if (res.fleet_version < ROLES_FLEET_VERSION && !said)
                fprintf(stderr, "rolesctl: the fleet's schema is version %d, older than this build's (%d): run "
                        "'rolesctl fleet upgrade' once, after roles is upgraded on the hosts\n", res.fleet_version,
                        ROLES_FLEET_VERSION);
        said = said || res.fleet_version < ROLES_FLEET_VERSION;
        return EXIT_OK;
}

/* What init and upgrade made runs as the role that made it (fleet.h): say so once it is done,
 * rather than refuse, since a superuser is how a PostgreSQL is first reached. */
static void warn_if_superuser(const struct roles_fleet *f) {
        if (roles_fleet_as_superuser(f))
                fprintf(stderr, "rolesctl: warning: connected as a superuser: the functions hosts call run as the "
                        "role that made them (SECURITY DEFINER); make and upgrade the fleet as a role that owns "
                        "its database and nothing more (README: Setting up)\n");
}

int cli_fleet_begin(struct cli *c, bool init) {
        char dir[PATH_MAX], err[512];
        int r = cache_dir(c, dir, sizeof(dir));
        if (r != EXIT_OK)
                return r;
        if (snprintf(c->cfg.public_db, sizeof(c->cfg.public_db), "%s/roles.db", dir) >= (int) sizeof(c->cfg.public_db) ||
            snprintf(c->cfg.secrets_db, sizeof(c->cfg.secrets_db), "%s/secrets.db", dir) >= (int) sizeof(c->cfg.secrets_db) ||
            snprintf(c->cfg.state_db, sizeof(c->cfg.state_db), "%s/state.db", dir) >= (int) sizeof(c->cfg.state_db))
                return cli_fail(EXIT_ERROR, "%s: path too long", dir);
        r = roles_fleet_connect(&c->cfg, &c->fleet, err, sizeof(err));
        if (r < 0)
                return cli_fail(EXIT_ERROR, "%s", err);
        if (init && (r = roles_fleet_init(c->fleet)) < 0 && r != -EEXIST)
                return cli_fail(EXIT_ERROR, "%s", roles_fleet_error(c->fleet));
        if (init && r == 0)
                warn_if_superuser(c->fleet);
        return refresh(c);
}

/* A command that read its input (a batch, a password) cannot read it again. */
static bool reads_input(int argc, char *const *argv) {
        for (int i = 0; i < argc; i++)
                if (strcmp(argv[i], "--password-stdin") == 0 || strcmp(argv[i], "--stdin") == 0)
                        return true;
        return listed(input_commands, ROLES_N_ELEMENTS(input_commands), argc, argv);
}

int cli_fleet_again(struct cli *c, int argc, char *const *argv, unsigned attempt) {
        if (reads_input(argc, argv))
                return cli_fail(EXIT_CONFLICT, "another change reached the fleet first; nothing was changed: run the "
                                "command again");
        if (attempt >= FLEET_ATTEMPTS)
                return cli_fail(EXIT_CONFLICT, "the fleet kept changing under this change (%u attempts); nothing was "
                                "changed: run the command again", attempt);
        /* Apart, so that the changes that collided do not collide again in step. */
        uint32_t jitter = 0;
        if (getrandom(&jitter, sizeof(jitter), 0) < 0)
                jitter = (uint32_t) getpid();
        usleep((useconds_t) (10000 + jitter % (20000u * (attempt < 5 ? attempt + 1 : 5))));
        return refresh(c);
}

void cli_fleet_end(struct cli *c) {
        roles_fleet_close(c->fleet);
        c->fleet = NULL;
}

int cli_fleet_unlock(struct cli *c, const char *name) {
        struct roles_fleet *f = NULL;
        char err[512];
        int64_t serial = 0;
        int r = roles_fleet_connect(&c->cfg, &f, err, sizeof(err));
        if (r < 0)
                return cli_fail(EXIT_ERROR, "%s", err);
        r = roles_fleet_publish_unlock(f, name, c->actor, &serial);
        r = r < 0 ? cli_fail(r == -ENOENT ? EXIT_NOT_FOUND : EXIT_ERROR, "%s", roles_fleet_error(f)) : EXIT_OK;
        roles_fleet_close(f);
        return r;
}

int cli_fleet_upgrade(struct cli *c) {
        struct roles_fleet_upgrade_result res;
        struct roles_fleet *f = NULL;
        char err[512];
        int r = roles_fleet_connect(&c->cfg, &f, err, sizeof(err));
        if (r < 0)
                return cli_fail(EXIT_ERROR, "%s", err);
        if ((r = roles_fleet_upgrade(f, c->actor, &res)) < 0) {
                r = cli_fail(r == -ENOENT ? EXIT_NOT_FOUND : r == -EBUSY ? EXIT_CONFLICT : EXIT_ERROR, "%s",
                             roles_fleet_error(f));
                goto out;
        }
        r = EXIT_OK;
        if (res.from != res.to || res.remade)
                warn_if_superuser(f);
        if (c->json) {
                cli_answer_number(c, "from", res.from);
                cli_answer_number(c, "to", res.to);
                cli_answer_number(c, "serial", res.serial);
                cli_answer_text(c, "created", res.created);
                cli_answer_raw(c, "remade");
                fputs(res.remade ? "true" : "false", c->out);
        } else if (res.remade)
                fprintf(c->out, "the fleet's schema is at version %d, this build's, but was made by another build's text "
                        "of it\ncreated: %s\nmade again: every function, view and grant of the fleet's\n", res.to,
                        res.created[0] ? res.created : "nothing");
        else if (res.from == res.to)
                fprintf(c->out, "the fleet's schema is at version %d, this build's: nothing to do\n", res.to);
        else
                fprintf(c->out, "upgraded the fleet's schema from version %d to %d at serial %lld\ncreated: %s\n"
                        "made again: every function, view and grant of the fleet's\n", res.from, res.to,
                        (long long) res.serial, res.created[0] ? res.created : "nothing");
out:
        roles_fleet_close(f);
        return r;
}

int cli_fleet_list(struct cli *c, enum roles_fleet_listing what, const struct roles_list_filter *filter) {
        struct roles_fleet *f = c->fleet;
        char err[512];
        if (!f && roles_fleet_connect(&c->cfg, &f, err, sizeof(err)) < 0)
                return cli_fail(EXIT_ERROR, "%s", err);
        int r = out_list_fleet(c, f, what, filter);
        if (f != c->fleet)
                roles_fleet_close(f);
        return r;
}

/* SPDX-License-Identifier: MIT */
/* rolesctl: the administrator's tool, and the only writer of roles.db. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
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

static const char usage_text[] =
        "usage: rolesctl [--conf FILE] [--json] COMMAND ...\n"
        "\n"
        "  init [--admin NAME [--password-stdin | --activation]]\n"
        "  user add NAME [--uid N] [--group NAME | --gid N] [--full-name TEXT] [--home DIR]\n"
        "                [--shell PATH] [--email ADDR] [--expires DATE] [--password-stdin | --activation]\n"
        "  user mod NAME [--group NAME | --gid N] [--full-name TEXT] [--home DIR] [--shell PATH]\n"
        "                [--email ADDR] [--expires DATE|never]\n"
        "  user del|show|enable|disable|unlock|reset NAME ; user list\n"
        "  user passwd NAME [--stdin] ; user totp enroll|disable NAME\n"
        "  group add NAME [--gid N] [--description TEXT] ; group del|show NAME ; group list\n"
        "  group adduser|deluser GROUP USER\n"
        "  metarole add CODE [--name TEXT] [--description TEXT] [--includes CODE,...]\n"
        "  metarole del|show CODE ; metarole list ; metarole include|exclude PARENT CHILD\n"
        "  metarole grant|revoke CODE PERM ; metarole publish CODE [--gid N] ; metarole unpublish CODE\n"
        "  role add NAME --metarole CODE [--description TEXT] ; role del|show NAME ; role list\n"
        "  role grant|revoke|disable|enable ROLE PERM\n"
        "  role assign ROLE USER [--until TIME] ; role unassign ROLE USER\n"
        "  check USER PERM ; perms USER [--why]\n"
        "  import [--passwd FILE] [--group FILE] [--shadow FILE]\n"
        "  batch [FILE] ; audit ; backup FILE ; doctor\n";

/* The batch line being run, named in every error it causes; 0 outside a batch. */
static unsigned fail_batch_line;

void cli_fail_batch_line(unsigned lineno) {
        fail_batch_line = lineno;
}

int cli_fail(int exit_code, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        /* Always exactly one line: a name that carries a newline or an escape is shown escaped. */
        fputs("rolesctl: ", stderr);
        if (fail_batch_line > 0)
                fprintf(stderr, "batch line %u: ", fail_batch_line);
        out_text(stderr, msg);
        if (fail_batch_line > 0)
                fputs("; nothing changed", stderr);
        fputc('\n', stderr);
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

int cli_fail_store(struct cli *c, int r) {
        return cli_fail(cli_exit_code(r), "%s", c->store ? roles_store_error(c->store) : strerror(-r));
}

int cli_check_local_name(struct cli *c, const char *name, bool group) {
        /* getpwnam/getgrnam ask every service in nsswitch.conf, roles too: an answer inside
         * roles' ranges is roles' own (or will be refused as a duplicate by the store). */
        if (group) {
                struct group *gr = getgrnam(name);
                if (gr && (gr->gr_gid < c->cfg.gid_min || gr->gr_gid > c->cfg.gid_max))
                        return cli_fail(EXIT_CONFLICT, "'%s' is a local group on this host (gid %u): a roles group of "
                                        "that name would be hidden by it and lend it its members", name,
                                        (unsigned) gr->gr_gid);
        } else {
                struct passwd *pw = getpwnam(name);
                if (pw && (pw->pw_uid < c->cfg.uid_min || pw->pw_uid > c->cfg.uid_max))
                        return cli_fail(EXIT_CONFLICT, "'%s' is a local account on this host (uid %u): a roles user of "
                                        "that name would be hidden by it and lend it their groups", name,
                                        (unsigned) pw->pw_uid);
        }
        return EXIT_OK;
}

int cli_store(struct cli *c, unsigned flags, struct roles_store **ret) {
        if (c->store && (c->store_flags & flags) == flags) {
                *ret = c->store;
                return 0;
        }
        /* Only outside batch can a store need reopening with more rights. */
        roles_store_close(c->store);
        c->store = NULL;
        if (flags & ROLES_STORE_WRITE)
                flags |= ROLES_STORE_SECRETS;

        char err[512];
        int r = roles_store_open(&c->cfg, flags, &c->store, err, sizeof(err));
        if (r < 0)
                return cli_fail(cli_exit_code(r) == EXIT_NOT_FOUND ? EXIT_ERROR : cli_exit_code(r), "%s", err);
        c->store_flags = flags;
        r = roles_store_set_actor(c->store, c->actor);
        if (r < 0)
                return cli_fail_store(c, r);
        *ret = c->store;
        return 0;
}

int cli_dispatch(struct cli *c, int argc, char **argv) {
        if (argc < 1)
                return cli_fail(EXIT_USAGE, "missing command; see 'rolesctl --help'");
        for (size_t s = 0; s < ROLES_N_ELEMENTS(command_sets); s++) {
                for (size_t i = 0; i < *command_sets[s].n; i++) {
                        const struct command *cmd = &command_sets[s].commands[i];
                        if (strcmp(cmd->noun, argv[0]) != 0)
                                continue;
                        if (!cmd->verb) {
                                if (c->in_batch && !cmd->batchable)
                                        return cli_fail(EXIT_USAGE, "'%s' cannot run inside a batch", cmd->noun);
                                return cmd->run(c, argc - 1, argv + 1);
                        }
                        if (argc < 2 || strcmp(cmd->verb, argv[1]) != 0)
                                continue;
                        if (c->in_batch && !cmd->batchable)
                                return cli_fail(EXIT_USAGE, "'%s %s' cannot run inside a batch", cmd->noun, cmd->verb);
                        return cmd->run(c, argc - 2, argv + 2);
                }
        }
        if (argc >= 2)
                return cli_fail(EXIT_USAGE, "unknown command '%s %s'; see 'rolesctl --help'", argv[0], argv[1]);
        return cli_fail(EXIT_USAGE, "unknown command '%s'; see 'rolesctl --help'", argv[0]);
}

/* "root", or "root (login alice)" when the audit login uid names someone else. */
static void find_actor(char *buf, size_t size) {
        uid_t uid = getuid();
        struct passwd *pw = getpwuid(uid);
        if (pw && roles_text_valid(pw->pw_name, 64))
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "uid %u", (unsigned) uid);

        FILE *f = fopen("/proc/self/loginuid", "re");
        unsigned long login = (unsigned long) -1;
        if (f) {
                if (fscanf(f, "%lu", &login) != 1)
                        login = (unsigned long) -1;
                fclose(f);
        }
        if (login != (unsigned long) (uid_t) -1 && login != uid) {
                size_t n = strlen(buf);
                pw = getpwuid((uid_t) login);
                if (pw && roles_text_valid(pw->pw_name, 64))
                        snprintf(buf + n, size - n, " (login %s)", pw->pw_name);
                else
                        snprintf(buf + n, size - n, " (login uid %lu)", login);
        }
}

static int load_config(struct cli *c, const char *explicit_path) {
        char err[512];
        const char *path = roles_config_path(explicit_path);
        roles_config_defaults(&c->cfg);
        int r = roles_config_load(path, &c->cfg, err, sizeof(err));
        /* Only the built-in default may be missing: every key has a default. */
        if (r == -ENOENT && path == roles_config_path(NULL) && !explicit_path && !secure_getenv("ROLES_CONF"))
                return 0;
        if (r < 0)
                return cli_fail(EXIT_USAGE, "%s", err);
        return 0;
}

int main(int argc, char **argv) {
        struct cli c = { 0 };
        const char *conf = NULL;
        int i, r;

        /* Files we create are never looser than we say, whatever umask we inherit. */
        umask(0022);

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        c.json = true;
                else if (strcmp(argv[i], "--conf") == 0 && i + 1 < argc)
                        conf = argv[++i];
                else if (strncmp(argv[i], "--conf=", 7) == 0)
                        conf = argv[i] + 7;
                else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        fputs(usage_text, stdout);
                        return EXIT_OK;
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("rolesctl %s\n", ROLES_VERSION);
                        return EXIT_OK;
                } else
                        return cli_fail(EXIT_USAGE, "unknown option '%s'; see 'rolesctl --help'", argv[i]);
        }
        if (i >= argc)
                return cli_fail(EXIT_USAGE, "missing command; see 'rolesctl --help'");
        r = load_config(&c, conf);
        if (r != 0)
                return r;
        find_actor(c.actor, sizeof(c.actor));

        /* Output is held back until the change is published: a code or URI printed for a
         * change that then failed would be a lie. */
        char *out = NULL;
        size_t out_len = 0;
        c.out = open_memstream(&out, &out_len);
        if (!c.out)
                return cli_fail(EXIT_ERROR, "out of memory");

        r = cli_dispatch(&c, argc - i, argv + i);
        if (r == EXIT_OK && c.store && (c.store_flags & ROLES_STORE_WRITE)) {
                int k = roles_store_commit(c.store);
                if (k < 0)
                        r = cli_fail_store(&c, k);
        }
        roles_store_close(c.store);
        fclose(c.out);
        if ((r == EXIT_OK || r == EXIT_NO) && out_len > 0 &&
            (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0))
                r = cli_fail(EXIT_ERROR, "writing output: %s", strerror(errno));
        /* It may hold a one-time code or a TOTP secret. */
        if (out)
                explicit_bzero(out, out_len);
        free(out);
        return r;
}

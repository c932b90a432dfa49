/* SPDX-License-Identifier: MIT */
/* rolesctl: the administrator's tool, and the only writer of roles.db. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "roles-build.h"

/*
 * "root (uid 0)", or "root (uid 0; login alice, uid 10100)" when the audit login uid is someone
 * else's: each name with the uid it had at that moment, since a name alone may later be another
 * account's (a deleted user's name given to a new one) and a uid alone says nothing once its
 * account is gone. A uid without a name is "uid N".
 */
static void find_actor(char *buf, size_t size) {
        uid_t uid = getuid();
        struct passwd *pw = getpwuid(uid);
        bool named = pw && roles_text_valid(pw->pw_name, 64);
        int n = named ? snprintf(buf, size, "%s (uid %u", pw->pw_name, (unsigned) uid)
                      : snprintf(buf, size, "uid %u", (unsigned) uid);

        FILE *f = fopen("/proc/self/loginuid", "re");
        unsigned long login = (unsigned long) -1;
        if (f) {
                if (fscanf(f, "%lu", &login) != 1)
                        login = (unsigned long) -1;
                fclose(f);
        }
        if (n >= 0 && (size_t) n < size && login != (unsigned long) (uid_t) -1 && login != uid) {
                const char *sep = named ? "; " : " (";
                pw = getpwuid((uid_t) login);
                if (pw && roles_text_valid(pw->pw_name, 64))
                        n += snprintf(buf + n, size - (size_t) n, "%slogin %s, uid %lu", sep, pw->pw_name, login);
                else
                        n += snprintf(buf + n, size - (size_t) n, "%slogin uid %lu", sep, login);
                named = true;
        }
        if (named && n >= 0 && (size_t) n < size)
                snprintf(buf + n, size - (size_t) n, ")");
}

static int load_config(struct cli *c, const char *explicit_path) {
        char err[512];
        return cli_load_config(&c->cfg, explicit_path, err, sizeof(err)) < 0 ? cli_fail(EXIT_USAGE, "%s", err) : 0;
}

static int unknown_option(const char *arg) {
        struct suggest s;
        suggest_init(&s, arg + strspn(arg, "-"));
        for (size_t k = 0; cli_top_options[k]; k++)
                suggest_offer(&s, cli_top_options[k]);
        const char *near = suggest_best(&s);
        if (near)
                return cli_fail(EXIT_USAGE, "unknown option '%s'; did you mean '--%s'?", arg, near);
        return cli_fail(EXIT_USAGE, "unknown option '%s'; see 'rolesctl --help'", arg);
}

/*
 * A standard descriptor its caller closed (cron, a daemon, `<&-`) must not be taken by a file
 * opened later: roles.db.lock would be the batch read from stdin, or get the error lines written
 * to stderr. Each is held by /dev/null opened the other way round, so that using it still fails
 * as using a closed one does (EBADF). 0, or -errno.
 */
static int hold_closed_std_fds(void) {
        static const int direction[] = { O_WRONLY, O_RDONLY, O_RDONLY };
        for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
                if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
                        continue;
                /* The lowest free number: fd, the ones below it being open. */
                int held = open("/dev/null", direction[fd] | O_NOCTTY);
                if (held < 0)
                        return -errno;
                if (held != fd) {
                        close(held);
                        return -EBADF;
                }
        }
        return 0;
}

/* What --help or --version printed straight to stdout reached it: EXIT_OK, or the error said. */
static int printed(void) {
        if (fflush(stdout) != 0 || ferror(stdout))
                return cli_fail(EXIT_ERROR, "writing output: %s", strerror(errno ? errno : EIO));
        return EXIT_OK;
}

int main(int argc, char **argv) {
        struct cli c = { 0 };
        const char *conf = NULL, *source = NULL;
        int i, r;

        r = hold_closed_std_fds();
        if (r < 0)
                return cli_fail(EXIT_ERROR, "cannot hold the closed standard descriptors: %s", strerror(-r));
        /* Files we create are never looser than we say, whatever umask we inherit. */
        umask(0022);
        /* Output is written after the change is published: a reader that went away is an error
         * to report (the change was made), not a signal that ends us without a word. (Without
         * a change, SIGPIPE ends us at the end as it would have.) */
        signal(SIGPIPE, SIG_IGN);

        /* --json and --conf stand anywhere before a "--": taken out here, so that commands never
         * see them (a value spelt like one is given as --full-name=--json). */
        int n = 1;
        for (i = 1; i < argc; i++) {
                int k = strcmp(argv[i], "--") == 0 ? -1 : cli_global_option(argv[i]);
                if (k < 0) {
                        while (i < argc)
                                argv[n++] = argv[i++];
                        break;
                }
                const char **value = strncmp(argv[i], "--conf", 6) == 0 ? &conf : &source;
                if (k == 0)
                        argv[n++] = argv[i];
                else if (strcmp(argv[i], "--json") == 0)
                        c.json = true;
                else if (k == 1)
                        *value = strchr(argv[i], '=') + 1;
                else if (i + 1 < argc)
                        *value = argv[++i];
                else
                        return cli_fail(EXIT_USAGE, "option '%s' needs a value", argv[i]);
        }
        argc = n;
        argv[argc] = NULL;
        cli_fail_json(c.json);

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        cli_help_overview(stdout);
                        return printed();
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("rolesctl %s\n", ROLES_VERSION);
                        return printed();
                } else
                        return unknown_option(argv[i]);
        }
        if (i >= argc)
                return cli_fail(EXIT_USAGE, "missing command; see 'rolesctl --help'");
        /* Help reads no configuration: it works where the configuration is broken or missing. */
        r = cli_help_wanted(argc - i, argv + i) ? EXIT_OK : load_config(&c, conf);
        if (r != 0)
                return r;
        find_actor(c.actor, sizeof(c.actor));

        /* Output is held back until the change is published: a code or URI printed for a
         * change that then failed would be a lie. */
        struct out_buffer out;
        c.out = out_buffer_open(&out);
        if (!c.out)
                return cli_fail(EXIT_ERROR, "out of memory");

        r = EXIT_OK;
        if (source && (!roles_config_source_valid(source) ||
                       roles_strcpy(c.cfg.source, sizeof(c.cfg.source), source) < 0))
                r = cli_fail(EXIT_USAGE, "--source: not printable ASCII of at most %d bytes", ROLES_TEXT_MAX);
        if (r == EXIT_OK && cli_fleet_wanted(&c, argc - i, argv + i))
                r = cli_fleet_begin(&c, strcmp(argv[i], "init") == 0);
        for (unsigned attempt = 1; r == EXIT_OK; attempt++) {
                r = cli_finish(&c, cli_dispatch(&c, argc - i, argv + i));
                if (r != EXIT_FLEET_AGAIN)
                        break;
                /* Lost the race for the fleet's next serial: nothing changed; its output goes. */
                fclose(c.out);
                out_buffer_free(&out);
                c.out = out_buffer_open(&out);
                r = c.out ? cli_fleet_again(&c, argc - i, argv + i, attempt) : cli_fail(EXIT_ERROR, "out of memory");
        }
        cli_fleet_end(&c);
        if (!c.out)
                return r;
        /* A write that failed (out of memory) left the stream in error: the output is not whole. */
        bool whole = !ferror(c.out);
        fclose(c.out);
        int k = 0;
        if ((r == EXIT_OK || r == EXIT_NO) && !whole)
                k = -ENOMEM;
        else if (r == EXIT_OK || r == EXIT_NO)
                k = fflush(stdout) != 0 ? -errno : out_buffer_write(&out, STDOUT_FILENO);
        /* The change stands whatever became of its output (a code, a URI): saying only that the
         * output failed would leave the administrator believing nothing changed. */
        if (k == -EPIPE && !c.published) {
                /* Nothing changed: end as any filter whose reader went away does (`| head`). */
                signal(SIGPIPE, SIG_DFL);
                raise(SIGPIPE);
        }
        if (k < 0 && c.published)
                r = cli_fail(EXIT_ERROR, "the change was made, but its output could not be written: %s", strerror(-k));
        else if (k < 0 && !whole)
                r = cli_fail(EXIT_ERROR, "out of memory");
        else if (k < 0)
                r = cli_fail(EXIT_ERROR, "writing output: %s", strerror(-k));
        out_buffer_free(&out);
        host_accounts_done(&c.host);
        return r;
}

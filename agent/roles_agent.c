/* SPDX-License-Identifier: MIT */
/*
 * roles-agent: keeps this host's roles files at the fleet's latest serial (FLEET.md, "Read
 * path"; the work is roles_fleet_sync's, fleet.h).
 *
 * A round reads the fleet's serial (one indexed row) and, when it moved, brings the files up
 * to it. Between rounds the agent waits fleet_poll seconds, give or take a quarter, so that a
 * thousand hosts started together do not poll together; connected to the primary it also
 * LISTENs, and a change wakes it at once (a standby refuses LISTEN: polling alone then). A lost
 * connection is made again at the next round. It logs one line per serial installed and per
 * refusal (once per refused serial, not once per poll), and one when the server is lost or
 * found again. After the sync, each round ships the host's outbox (what its logins wrote,
 * fleet_outbox.c) and logs one line with the depth left when it shipped anything; then it
 * reports the serial installed and that depth (roles.hosts, `rolesctl fleet status`), also
 * when nothing changed: that is the host's last contact.
 *
 * Between rounds it also serves the host's logins on AGENT_SOCKET (agent-protocol.h): a password
 * change or a one-time code decided on the primary at once, then installed by a round before the
 * answer. One request at a time, each bounded in size and time, so that no client holds the
 * rounds longer than AGENT_TIMEOUT_MS.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "agent-protocol.h"
#include "config.h"
#include "fleet.h"
#include "roles-build.h"

enum { EXIT_INSTALLED = 0, EXIT_REFUSED = 1, EXIT_UNREACHABLE = 2, EXIT_USAGE = 3, EXIT_FAILED = 5 };

static bool timestamps;
static volatile sig_atomic_t stopping;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (timestamps) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                fprintf(stderr, "%lld.%06ld roles-agent: %s\n", (long long) ts.tv_sec, ts.tv_nsec / 1000, line);
        } else
                fprintf(stderr, "roles-agent: %s\n", line);
}

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

struct agent {
        struct roles_config cfg;
        struct roles_fleet *fleet;
        int64_t installed;              /* -1: not read yet */
        int64_t refused_serial;         /* the last serial refused, logged once */
        char last_error[512];           /* the last other failure, logged once until it changes */
        bool unreachable;               /* logged once until reached again */
        bool listening;
        bool synced;                    /* a round since the start ran the sync (roles.conf may be new) */
        bool no_ingest;                 /* the server has no ingest function: said once */
        bool no_report;                 /* the server has no report function: said once */
        bool older;                     /* the fleet's schema is older than this build's: said once */
        int64_t depth;                  /* the outbox's depth after the round's shipping */
        int listen_fd;                  /* AGENT_SOCKET, -1: none (--once) */
        ino_t listen_ino;               /* ours, to unlink at the end and no other */
};

static void lost(struct agent *a, const char *why) {
        static const char prefix[] = "the account server cannot be reached";
        if (!a->unreachable)
                say("%s%s", strncmp(why, prefix, sizeof(prefix) - 1) == 0 ? "" : "the account server cannot be reached: ", why);
        a->unreachable = true;
        roles_fleet_close(a->fleet);
        a->fleet = NULL;
        a->listening = false;
}

static int connect_fleet(struct agent *a) {
        char err[512];
        if (a->fleet)
                return 0;
        int r = roles_fleet_connect(&a->cfg, &a->fleet, err, sizeof(err));
        if (r < 0) {
                lost(a, err);
                return r;
        }
        if (a->unreachable)
                say("the account server is reached again");
        a->unreachable = false;
        /* Wake at once on a change where the server can say so (not a standby). */
        PGresult *res = PQexec(roles_fleet_conn(a->fleet), "LISTEN roles_serial");
        a->listening = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        return 0;
}

/* A failure that is neither a refusal nor a lost server (a role without the grants it needs, a
 * full disk): logged when it first happens, not at every round while it lasts. */
static int failed(struct agent *a, const char *why) {
        if (strcmp(a->last_error, why) != 0)
                say("%s", why);
        snprintf(a->last_error, sizeof(a->last_error), "%s", why);
        return EXIT_FAILED;
}

/* An older fleet (fleet.h, ROLES_FLEET_VERSION): said once, and once more when it is upgraded. What
 * it lacks (ingest, report, the claims) then fails quietly: this says why. */
static void older_fleet(struct agent *a, int version) {
        if (version < ROLES_FLEET_VERSION && !a->older)
                say("the fleet's schema is version %d, older than this build's (%d): run 'rolesctl fleet upgrade' once; "
                    "until then this host installs the fleet's changes but ships no outbox, reports no status, gets no "
                    "fleet locks or TOTP steps used elsewhere, and refuses password changes and code logins",
                    version, ROLES_FLEET_VERSION);
        else if (version == ROLES_FLEET_VERSION && a->older)
                say("the fleet's schema is now version %d, this build's", version);
        a->older = version < ROLES_FLEET_VERSION;
}

/* The sync of a round: EXIT_INSTALLED (installed, or nothing new), EXIT_REFUSED, EXIT_UNREACHABLE
 * or EXIT_FAILED. */
static int sync_round(struct agent *a) {
        struct roles_fleet_sync_result res;
        int64_t serial;
        char err[512];
        if (connect_fleet(a) < 0)
                return EXIT_UNREACHABLE;
        if (a->installed < 0 && roles_fleet_installed(&a->cfg, &a->installed, err, sizeof(err)) < 0)
                a->installed = 0;       /* no files yet: a new host */
        int r = roles_fleet_serial(a->fleet, &serial);
        if (r == -ECONNRESET || (r < 0 && PQstatus(roles_fleet_conn(a->fleet)) != CONNECTION_OK)) {
                lost(a, roles_fleet_error(a->fleet));
                return EXIT_UNREACHABLE;
        }
        if (r < 0)
                return failed(a, roles_fleet_error(a->fleet));
        /* The first round syncs even at the installed serial: host_secrets may have changed. */
        if (serial == a->installed && a->synced)
                return EXIT_INSTALLED;
        if (serial == a->refused_serial)
                return EXIT_REFUSED;
        double start = now_ms();
        r = roles_fleet_sync(a->fleet, &a->cfg, 0, &res);
        if (r == -ESTALE || r == -EPROTO) {
                a->refused_serial = serial;
                say("%s", roles_fleet_error(a->fleet));
                return EXIT_REFUSED;
        }
        if (r < 0) {
                if (PQstatus(roles_fleet_conn(a->fleet)) != CONNECTION_OK) {
                        lost(a, roles_fleet_error(a->fleet));
                        return EXIT_UNREACHABLE;
                }
                snprintf(err, sizeof(err), "serial %lld not installed: %s", (long long) serial, roles_fleet_error(a->fleet));
                return failed(a, err);
        }
        older_fleet(a, res.fleet_version);
        a->installed = res.to;
        a->refused_serial = 0;
        a->last_error[0] = '\0';
        a->synced = true;
        if (res.to != res.from) {
                if (res.full)
                        say("installed serial %lld (full copy, from %lld) in %.0f ms", (long long) res.to,
                            (long long) res.from, now_ms() - start);
                else
                        say("installed serial %lld (%zu change%s since %lld) in %.0f ms", (long long) res.to,
                            res.changes, res.changes == 1 ? "" : "s", (long long) res.from, now_ms() - start);
        }
        if (res.locks || res.steps)
                say("serial %lld: %zu lock%s or unlock%s and %zu TOTP step%s used from the fleet", (long long) res.to,
                    res.locks, res.locks == 1 ? "" : "s", res.locks == 1 ? "" : "s", res.steps, res.steps == 1 ? "" : "s");
        if (res.warning[0])
                say("serial %lld: %s", (long long) res.to, res.warning);
        if (res.findings)
                say("serial %lld holds %u row%s that readers ignore: %s", (long long) res.to, res.findings,
                    res.findings == 1 ? "" : "s", res.finding);
        return EXIT_INSTALLED;
}

/*
 * What a call to the server after the sync (the shipping, the report) returned, r, as a round's
 * exit code: a server without the function (an older init, -ENOSYS) is said once (*missing
 * keeps count) and the round goes on; a lost server is lost; another failure is logged as
 * "WHAT: reason" (unless quiet: the caller's failure is logged already).
 */
static int after_sync(struct agent *a, int r, bool *missing, const char *what, bool quiet) {
        char err[512];
        if (r == -ENOSYS) {
                if (!*missing && !a->older)
                        say("%s", roles_fleet_error(a->fleet));
                *missing = true;
                return EXIT_INSTALLED;
        }
        *missing = false;
        if (r < 0 && PQstatus(roles_fleet_conn(a->fleet)) != CONNECTION_OK) {
                lost(a, roles_fleet_error(a->fleet));
                return EXIT_UNREACHABLE;
        }
        if (r < 0 && quiet)
                return EXIT_FAILED;
        if (r < 0) {
                snprintf(err, sizeof(err), "%s: %s", what, roles_fleet_error(a->fleet));
                return failed(a, err);
        }
        return EXIT_INSTALLED;
}

/* The outbox of a round, after its sync: one line when something was shipped, with the depth
 * left; a server without ingest (an older init) is said once, and the read path goes on. */
static int ship_round(struct agent *a) {
        struct roles_fleet_ship_result res;
        double start = now_ms();
        int r = roles_fleet_ship(a->fleet, &a->cfg, &res);
        a->depth = (int64_t) res.depth;
        r = after_sync(a, r, &a->no_ingest, "outbox not shipped", false);
        if (r == EXIT_INSTALLED && res.sent)
                say("shipped %zu outbox event%s (%zu new) in %.0f ms, outbox depth %zu", res.sent,
                    res.sent == 1 ? "" : "s", res.fresh, now_ms() - start, res.depth);
        return r;
}

/* The report of a round, every round (the last contact is the point when nothing changed):
 * the serial installed and the outbox's depth. A server without report (an older init) is said
 * once; nothing else depends on it. quiet: the shipping failed and was logged; a report that
 * fails too (a standby refuses both) is not logged again, so that two failures do not take
 * turns in the log at every round. */
static int report_round(struct agent *a, bool quiet) {
        int r = roles_fleet_report(a->fleet, a->installed < 0 ? 0 : a->installed, a->depth);
        return after_sync(a, r, &a->no_report, "status not reported", quiet);
}

/* One round: the sync, then (connected) the outbox and the report, also when the shipping
 * failed: a depth that grows is what the report is for then. The sync's exit code unless
 * shipping or reporting lost the server or failed. */
static int round_once(struct agent *a) {
        int r = sync_round(a);
        if (r == EXIT_UNREACHABLE || !a->fleet)
                return r;
        int k = ship_round(a);
        if (k != EXIT_UNREACHABLE && a->fleet) {
                int q = report_round(a, k != EXIT_INSTALLED);
                k = k == EXIT_INSTALLED ? q : k;
        }
        return k == EXIT_INSTALLED ? r : k;
}

/* ---- the socket (agent-protocol.h) ---------------------------------------------------------- */

/*
 * AGENT_SOCKET, 0600 root. A file already there is unlinked only when it is a socket nobody
 * answers on (an agent of ours that died): a live agent's is refused, and anything else at that
 * path (a file, a link someone made) is left alone and refused, never followed.
 */
static int listen_socket(struct agent *a) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        memcpy(sa.sun_path, AGENT_SOCKET, sizeof(AGENT_SOCKET));
        (void) mkdir("/run/roles", 0755);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                say("%s: %s", AGENT_SOCKET, strerror(errno));
                return -errno;
        }
        if (lstat(AGENT_SOCKET, &st) == 0) {
                int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                bool live = probe >= 0 && connect(probe, (struct sockaddr *) &sa, sizeof(sa)) == 0;
                bool stale = probe >= 0 && !live && errno == ECONNREFUSED;
                if (probe >= 0)
                        close(probe);
                if (!S_ISSOCK(st.st_mode) || st.st_uid != 0 || !stale) {
                        say("%s: %s: not serving password changes and code claims", AGENT_SOCKET,
                            live ? "another agent is serving it" : "a file that is not a stale socket of root's");
                        close(fd);
                        return -EEXIST;
                }
                (void) unlink(AGENT_SOCKET);
        }
        /* Made 0600 by the umask itself: no moment when it is wider. */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ? -errno : 0;
        umask(old);
        if (r == 0 && stat(AGENT_SOCKET, &st) < 0)
                r = -errno;
        if (r < 0) {
                say("%s: %s", AGENT_SOCKET, strerror(-r));
                close(fd);
                return r;
        }
        a->listen_fd = fd;
        a->listen_ino = st.st_ino;
        return 0;
}

static void unlisten(struct agent *a) {
        struct stat st;
        if (a->listen_fd < 0)
                return;
        if (lstat(AGENT_SOCKET, &st) == 0 && st.st_ino == a->listen_ino)
                (void) unlink(AGENT_SOCKET);
        close(a->listen_fd);
        a->listen_fd = -1;
}

/* The request whole (ended by the client's end of file), NUL-terminated in buf: its length, or
 * -E2BIG (larger than AGENT_REQUEST_MAX), -ETIMEDOUT, -EIO. */
static ssize_t read_request(int fd, char *buf, size_t size) {
        double until = now_ms() + AGENT_TIMEOUT_MS;
        size_t got = 0;
        for (;;) {
                double left = until - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, (int) left + 1) < 0 && errno != EINTR)
                        return -EIO;
                ssize_t n = recv(fd, buf + got, size - 1 - got, 0);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return -EIO;
                if (n == 0)
                        break;
                got += (size_t) n;
                if (got >= size - 1)
                        return -E2BIG;
        }
        buf[got] = '\0';
        return (ssize_t) got;
}

/* Split a request into its lines (each ended by '\n'): their number, or -EBADMSG (a NUL, or a
 * last line without its '\n'). */
static int split_lines(char *buf, size_t len, char **lines, int max) {
        int n = 0;
        if (len == 0 || memchr(buf, '\0', len) || buf[len - 1] != '\n')
                return -EBADMSG;
        for (char *p = buf; p < buf + len; n++) {
                char *nl = strchr(p, '\n');
                if (n == max)
                        return -EBADMSG;
                *nl = '\0';
                lines[n] = p;
                p = nl + 1;
        }
        return n;
}

static bool is_uuid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !strchr("0123456789abcdef", s[i]) || !s[i])
                        return false;
        return true;
}

static int sync_round(struct agent *a);

/* What the primary answered a claim (r: 1 won, 0 lost, -errno) as the socket's answer. Won:
 * installed here before the answer (a round at once), so that the login that asked finds it in
 * its files. */
static const char *decided(struct agent *a, int r, int64_t serial, const char *what, const char *uuid) {
        if (r < 0) {
                if (PQstatus(roles_fleet_conn(a->fleet)) != CONNECTION_OK)
                        lost(a, roles_fleet_error(a->fleet));
                else
                        say("%s of %s not made: %s", what, uuid, roles_fleet_error(a->fleet));
                return AGENT_UNREACHABLE;
        }
        if (r == 0) {
                say("%s of %s refused by the account server", what, uuid);
                return AGENT_LOST;
        }
        say("%s of %s at serial %lld", what, uuid, (long long) serial);
        if (sync_round(a) != EXIT_INSTALLED || a->installed < serial)
                say("serial %lld not installed yet: at the next round", (long long) serial);
        return AGENT_WON;
}

/* password UUID OLD NEW FS_UNIQUIFIER ACTIVATE */
static const char *change_password(struct agent *a, char **l) {
        int64_t serial = 0;
        if (!is_uuid(l[1]) || !l[3][0] || !is_uuid(l[4]) || (strcmp(l[5], "0") != 0 && strcmp(l[5], "1") != 0))
                return AGENT_REFUSED;
        if (connect_fleet(a) < 0)
                return AGENT_UNREACHABLE;
        int r = roles_fleet_change_password(a->fleet, l[1], l[2], l[3], l[4], l[5][0] == '1', &serial);
        return decided(a, r, serial, "password change", l[1]);
}

/* code UUID KIND HASH */
static const char *claim_code(struct agent *a, char **l) {
        int64_t serial = 0;
        char what[32];
        if (!is_uuid(l[1]) || (strcmp(l[2], "activation") != 0 && strcmp(l[2], "reset") != 0 && strcmp(l[2], "recovery") != 0) ||
            strlen(l[3]) != 64 || strspn(l[3], "0123456789abcdef") != 64)
                return AGENT_REFUSED;
        if (connect_fleet(a) < 0)
                return AGENT_UNREACHABLE;
        int r = roles_fleet_claim_code(a->fleet, l[1], l[2], l[3], &serial);
        snprintf(what, sizeof(what), "%s code", l[2]);
        return decided(a, r, serial, what, l[1]);
}

/* One connection: one request, one answer, whatever the client sends or fails to. */
static void serve(struct agent *a, int fd) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        char buf[AGENT_REQUEST_MAX + 1], *lines[8], reply[32];
        const char *answer = AGENT_REFUSED;
        ssize_t n = -EPERM;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof(cred) && cred.uid == 0)
                n = read_request(fd, buf, sizeof(buf));
        int k = n >= 0 ? split_lines(buf, (size_t) n, lines, (int) ROLES_N_ELEMENTS(lines)) : (int) n;
        if (k == 6 && strcmp(lines[0], AGENT_REQ_PASSWORD) == 0)
                answer = change_password(a, lines);
        else if (k == 4 && strcmp(lines[0], AGENT_REQ_CODE) == 0)
                answer = claim_code(a, lines);
        else
                say("a request refused on %s: %s", AGENT_SOCKET, n == -EPERM ? "the client is not root" :
                    n == -E2BIG ? "too large" : n == -ETIMEDOUT ? "not whole in time" : "malformed");
        explicit_bzero(buf, sizeof(buf));
        snprintf(reply, sizeof(reply), "%s\n", answer);
        (void) send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void accept_clients(struct agent *a) {
        for (int i = 0; i < 16 && !stopping; i++) {
                int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                        return;
                serve(a, fd);
                close(fd);
        }
}

/* fleet_poll seconds, give or take a quarter; cut short by a notification or a signal. */
static void wait_round(struct agent *a) {
        uint32_t rnd = 0;
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
                rnd = (uint32_t) getpid();
        double poll_ms = a->cfg.fleet_poll * 1000.0, wait = poll_ms * 0.75 + (double) (rnd % 1001) / 1000.0 * poll_ms * 0.5;
        double until = now_ms() + wait;
        while (!stopping) {
                double left = until - now_ms();
                if (left <= 0)
                        return;
                PGconn *conn = a->fleet && a->listening ? roles_fleet_conn(a->fleet) : NULL;
                struct pollfd pfd[2] = { { .fd = conn ? PQsocket(conn) : -1, .events = POLLIN },
                                         { .fd = a->listen_fd, .events = POLLIN } };
                int n = poll(pfd, 2, (int) left + 1);
                if (n > 0 && pfd[1].revents) {
                        accept_clients(a);
                        continue;       /* the connection may have changed: poll again */
                }
                if (n > 0 && conn) {
                        bool woken = false;
                        if (!PQconsumeInput(conn))
                                return;         /* the connection is gone: the round finds out */
                        PGnotify *note;
                        while ((note = PQnotifies(conn))) {
                                woken = true;
                                PQfreemem(note);
                        }
                        if (woken)
                                return;
                }
        }
}

static void on_signal(int sig) {
        (void) sig;
        stopping = 1;
}

static void usage(FILE *f) {
        fputs("usage: roles-agent [--conf FILE] [--once] [--timestamps]\n"
              "Keep this host's roles files at the fleet's latest serial (roles-agent(8)).\n", f);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "conf", required_argument, NULL, 'c' }, { "once", no_argument, NULL, 'o' },
                { "timestamps", no_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' }, { 0 },
        };
        struct agent a = { .installed = -1, .listen_fd = -1 };
        const char *conf = NULL;
        bool once = false;
        char err[512];
        int opt;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (opt) {
                case 'c': conf = optarg; break;
                case 'o': once = true; break;
                case 't': timestamps = true; break;
                case 'h': usage(stdout); return 0;
                case 'V': printf("roles-agent %s\n", ROLES_VERSION); return 0;
                default: usage(stderr); return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        umask(0022);
        roles_config_defaults(&a.cfg);
        if (roles_config_load(roles_config_path(conf), &a.cfg, err, sizeof(err)) < 0) {
                say("%s", err);
                return EXIT_USAGE;
        }
        if (!a.cfg.source[0]) {
                say("%s sets no source: this host is not a fleet's", roles_config_path(conf));
                return EXIT_USAGE;
        }
        setvbuf(stderr, NULL, _IOLBF, 0);
        if (once) {
                int r = round_once(&a);
                roles_fleet_close(a.fleet);
                return r;
        }
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        (void) listen_socket(&a);      /* without it, the read path goes on: logins are refused the claims */
        say("started: %s, every %u s", a.cfg.host_secrets_none ? "no secrets" : "with secrets", a.cfg.fleet_poll);
        while (!stopping) {
                round_once(&a);
                wait_round(&a);
        }
        say("stopping");
        unlisten(&a);
        roles_fleet_close(a.fleet);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * roles_chkpwd: checks the calling user's own roles password (and TOTP code), for a process that
 * is not root. Installed setuid root.
 *
 * Why it exists: a screen locker, a desktop unlock or any program the user runs as itself loads
 * pam_roles.so without privilege, and secrets.db and state.db are root's (0600). pam_unix has
 * unix_chkpwd for /etc/shadow; this is roles' counterpart. pam_roles.so execs it when its
 * effective uid is not root (pam_roles(8)), with chkpwd-protocol.h's protocol.
 *
 * What it does, and nothing else: one attempt of the login protocol (login.h:
 * roles_login_password, the same code, the same failure counting toward deny and the same
 * audit rows as pam_roles' auth in a root process) for the account of its caller's real uid.
 *
 * What it trusts: its real uid (the kernel's), roles.db as found through the configuration file
 * compiled in (ROLES_DEFAULT_CONF, root's, checked as every setuid program checks it), and the
 * host's account files. Not its environment (cleared, never read: no ROLES_CONF), not its
 * descriptors beyond 0-2 (closed), not its umask, signals, limits or groups (reset), not the
 * name it is given (it must be the caller's own account as roles.db resolves the real uid, and
 * the system must resolve it to that uid), and not a terminal: stdin must not be one, as for
 * unix_chkpwd, so that it is not a password prompt a user's shell can loop over.
 *
 * A name that is not the caller's own is refused before any password is read, logged, and not
 * counted against that account: nothing was tried on it (unix_chkpwd refuses the same way), and
 * a user may not lock another out through it. The helper's guesses at the caller's own password
 * are bounded by deny, as su's are.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "chkpwd-protocol.h"
#include "config.h"
#include "login.h"
#include "roles-build.h"
#include "util.h"

/* The one answer being read: the password, then the code (each wiped before the next). */
static char answer[CHKPWD_ANSWER_MAX + 1];

static void wipe_answer(void) {
        explicit_bzero(answer, sizeof(answer));
}

/* An answer from stdin up to its NUL byte (one byte at a time: what follows it is the next
 * answer's). 0 with the text; -EIO at end of file or a read error before the NUL. Past
 * CHKPWD_ANSWER_MAX bytes the rest is read and dropped, so that the answer is judged too long. */
static int read_answer(void) {
        size_t n = 0;
        wipe_answer();
        for (;;) {
                char c;
                ssize_t k = read(STDIN_FILENO, &c, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -EIO;
                if (c == '\0')
                        break;
                if (n < CHKPWD_ANSWER_MAX)
                        answer[n++] = c;
        }
        answer[n] = '\0';
        return 0;
}

static int ask(void *userdata, enum roles_login_ask what, const char **ret_answer) {
        (void) userdata;
        char request = what == ROLES_LOGIN_ASK_CODE ? CHKPWD_ASK_CODE : CHKPWD_ASK_PASSWORD;
        /* Only auth runs here: a new password is never asked. */
        if (what == ROLES_LOGIN_ASK_NEW || roles_write_all(STDOUT_FILENO, &request, 1) < 0 || read_answer() < 0)
                return -EIO;
        *ret_answer = answer;
        return 0;
}

static void tell(char kind, const char *text) {
        size_t len = strnlen(text, CHKPWD_SAY_MAX);
        char nul = '\0';
        /* The caller may have gone: nothing to tell then. */
        if (roles_write_all(STDOUT_FILENO, &kind, 1) == 0 && roles_write_all(STDOUT_FILENO, text, len) == 0)
                (void) roles_write_all(STDOUT_FILENO, &nul, 1);
}

static void say(void *userdata, const char *text) {
        (void) userdata;
        tell(CHKPWD_SAY_ERROR, text);
}

static void inform(void *userdata, const char *text) {
        (void) userdata;
        tell(CHKPWD_SAY_INFO, text);
}

static void log_line(void *userdata, int priority, const char *text) {
        (void) userdata;
        syslog(priority, "%s", text);
}

/*
 * Everything its caller set up and could steer it by: descriptors beyond 0-2 (closed, and 0-2
 * made to exist, or a database could be opened as stderr), the environment (cleared), the umask,
 * signals (a terminal's ^C or ^Z, or SIGPIPE from a caller that went away, must not end or stop
 * it inside a state.db transaction), the interval timers its caller armed (they survive execve,
 * and their SIGALRM, SIGVTALRM or SIGPROF needs no permission to arrive: a kill timed between
 * the argon2 verdict and the commit that counts a wrong password would be a guess never counted),
 * a real-time scheduling policy (with the caller's RLIMIT_RTTIME, SIGXCPU would end it in the
 * middle of its argon2, before a wrong password is counted), the resource limits that end a
 * process mid-write (SIGXFSZ, SIGXCPU) or make its writes fail (memory, stack, descriptors), core
 * dumps. Then root in all three uids and gids, without the caller's groups: the
 * caller can no longer signal it (kill(2) needs its real or saved uid), and what it creates is
 * root's. Returns the caller's real uid, or -1 when it cannot run as it must.
 */
static int take_over(uid_t *ret_caller) {
        static const int ignored[] = { SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE,
                                       SIGALRM, SIGVTALRM, SIGPROF };
        static const int timers[] = { ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF };
        /* Fixed values, not "as high as allowed": an unlimited stack would give the legacy mmap
         * layout (less ASLR) to a setuid process. */
        static const struct { int resource; rlim_t value; } limits[] = {
                { RLIMIT_FSIZE, RLIM_INFINITY }, { RLIMIT_CPU, RLIM_INFINITY }, { RLIMIT_AS, RLIM_INFINITY },
                { RLIMIT_DATA, RLIM_INFINITY }, { RLIMIT_STACK, 8u << 20 }, { RLIMIT_NOFILE, 1024 },
        };
        uid_t caller = getuid();

        for (int fd = 0; fd <= 2; fd++)
                if (fcntl(fd, F_GETFD) < 0 && (errno != EBADF || open("/dev/null", O_RDWR) != fd))
                        return -1;
        if (close_range(3, ~0U, 0) < 0)
                return -1;
        if (clearenv() != 0)
                return -1;
        umask(077);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(ignored); i++)
                signal(ignored[i], SIG_IGN);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(timers); i++)
                if (setitimer(timers[i], &(struct itimerval) { 0 }, NULL) < 0)
                        return -1;
        if (sched_setscheduler(0, SCHED_OTHER, &(struct sched_param) { 0 }) < 0)
                return -1;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(limits); i++)
                if (setrlimit(limits[i].resource, &(struct rlimit) { limits[i].value, limits[i].value }) < 0)
                        return -1;
        if (prctl(PR_SET_DUMPABLE, 0) < 0)
                return -1;
        if (geteuid() != 0 || setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                return -1;
        *ret_caller = caller;
        return 0;
}

/*
 * The account USER names is the caller's own: roles.db's account for the real uid has that
 * name, and the login protocol finds it as a roles account (the host's own accounts do not hold
 * it, and the system resolves the name to that uid). AUTH_FAILED with a log line otherwise.
 */
static enum roles_login_result own_account(struct roles_attempt *a, uid_t caller) {
        struct roles_user self;
        int r = roles_user_by_uid(a->snap, caller, &self);
        if (r < 0 && r != -ENOENT)
                return roles_attempt_error(a, r, "looking up the caller's account");
        bool same = r == 0 && strcmp(self.name, a->user) == 0;
        explicit_bzero(&self, sizeof(self));
        if (same) {
                enum roles_login_result found = roles_login_find_user(a);
                if (found != ROLES_LOGIN_OK)
                        return found;
                same = a->known && a->u.uid == caller;
        }
        if (!same) {
                syslog(LOG_WARNING, "refused: uid %u asked to check the password of %s, which is not its own roles account",
                       (unsigned) caller, roles_login_user_for_log(a));
                return ROLES_LOGIN_AUTH_FAILED;
        }
        return ROLES_LOGIN_OK;
}

static enum roles_login_result run(int argc, char **argv, uid_t caller) {
        static const struct roles_login_ops ops = { .ask = ask, .say = say, .inform = inform, .log = log_line };
        struct roles_config cfg;
        struct roles_login *login = NULL;
        struct roles_attempt a;
        struct roles_login_found found;
        enum roles_login_reason reason;
        enum roles_login_result result;
        char err[512];

        roles_config_defaults(&cfg);
        roles_attempt_init(&a, NULL, &cfg, argc > 1 ? argv[1] : NULL, &ops, NULL);
        if (argc < 3 || argc > 4 || !roles_name_valid(argv[1]) ||
            (strcmp(argv[2], CHKPWD_MODE_AUTH) != 0 && strcmp(argv[2], CHKPWD_MODE_NO_TOTP) != 0 &&
             strcmp(argv[2], CHKPWD_MODE_TOTP_REQUIRED) != 0) ||
            (argc == 4 && !roles_perm_valid(argv[3], false))) {
                syslog(LOG_ERR, "refused: bad arguments from uid %u (usage: roles_chkpwd USER %s|%s|%s [PERMISSION])",
                       (unsigned) caller, CHKPWD_MODE_AUTH, CHKPWD_MODE_NO_TOTP, CHKPWD_MODE_TOTP_REQUIRED);
                return ROLES_LOGIN_SYSTEM_ERROR;
        }
        /* The configuration compiled in, whatever the caller's environment: it names the
         * databases and the argon2 parameters every refusal pays. */
        int r = roles_config_load(ROLES_DEFAULT_CONF, &cfg, err, sizeof(err));
        if (r < 0 && r != -ENOENT) {
                syslog(LOG_ERR, "%s", err);
                return ROLES_LOGIN_SYSTEM_ERROR;
        }
        r = roles_login_open(&cfg, &login, err, sizeof(err));
        if (r < 0) {
                syslog(LOG_ERR, "%s", err);
                return r == -ENOMEM ? ROLES_LOGIN_NO_MEMORY : ROLES_LOGIN_SYSTEM_ERROR;
        }
        roles_attempt_attach(&a, login);
        a.service = "roles_chkpwd";
        a.permission = argc == 4 ? argv[3] : NULL;
        a.no_totp = strcmp(argv[2], CHKPWD_MODE_NO_TOTP) == 0;
        a.totp_required = strcmp(argv[2], CHKPWD_MODE_TOTP_REQUIRED) == 0;
        result = own_account(&a, caller);
        if (result == ROLES_LOGIN_OK)
                result = roles_login_password(&a, &found, &reason);
        roles_login_close(login);
        explicit_bzero(&a.u, sizeof(a.u));
        return result;
}

#ifdef __SANITIZE_ADDRESS__
/* A sanitizer build (CI's): LeakSanitizer cannot trace a setuid process, and this one gets no
 * ASAN_OPTIONS (pam_roles.so execs it with no environment). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
        return "detect_leaks=0";
}
#endif

int main(int argc, char **argv) {
        uid_t caller;
        openlog("roles_chkpwd", LOG_PID, LOG_AUTHPRIV);
        if (take_over(&caller) < 0) {
                syslog(LOG_ERR, "refused: cannot take over the process (not installed setuid root?)");
                return ROLES_LOGIN_SYSTEM_ERROR;
        }
        if (isatty(STDIN_FILENO)) {
                syslog(LOG_NOTICE, "refused: run by uid %u with a terminal on stdin (it is pam_roles' helper, not a "
                       "command)", (unsigned) caller);
                fprintf(stderr, "roles_chkpwd: not a command: pam_roles.so runs it (roles_chkpwd(8))\n");
                return ROLES_LOGIN_AUTH_FAILED;
        }
        enum roles_login_result result = run(argc, argv, caller);
        wipe_answer();
        return (int) result;
}

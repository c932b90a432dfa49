/* SPDX-License-Identifier: MIT */
/*
 * auth without privilege: a screen locker or any program the user runs as itself cannot open
 * secrets.db and state.db, so the password is checked by roles_chkpwd (chkpwd/roles_chkpwd.c),
 * setuid root, at the path compiled in. It asks, this side answers through the module's own
 * conversation (ops->ask, which honours use_first_pass and try_first_pass), and its exit status
 * is the login protocol's result, mapped as the module maps its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include <security/pam_ext.h>

#include "chkpwd-protocol.h"
#include "pam-roles.h"
#include "roles-build.h"

static int send_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                /* MSG_NOSIGNAL: a helper that went away must not end the application with SIGPIPE. */
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -EIO;
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

static int recv_byte(int fd, char *ret) {
        for (;;) {
                ssize_t n = recv(fd, ret, 1, 0);
                if (n == 1)
                        return 0;
                if (n < 0 && errno == EINTR)
                        continue;
                return -EIO;
        }
}

/* The helper's side of the conversation, until it closes its end: each request answered
 * through ops->ask, each message said. */
static void converse(struct pam_roles *p, int fd) {
        char kind, text[CHKPWD_SAY_MAX + 1];
        while (recv_byte(fd, &kind) == 0) {
                if (kind == CHKPWD_ASK_PASSWORD || kind == CHKPWD_ASK_CODE) {
                        const char *answer = NULL;
                        enum roles_login_ask what = kind == CHKPWD_ASK_CODE ? ROLES_LOGIN_ASK_CODE : ROLES_LOGIN_ASK_PASSWORD;
                        /* No answer: the helper reads end of file, a conversation that failed. */
                        if (p->attempt.ops->ask(p, what, &answer) < 0 || !answer ||
                            send_all(fd, answer, strlen(answer) + 1) < 0)
                                return;
                } else if (kind == CHKPWD_SAY_ERROR || kind == CHKPWD_SAY_INFO) {
                        size_t n = 0;
                        char c;
                        while (recv_byte(fd, &c) == 0 && c != '\0')
                                if (n < CHKPWD_SAY_MAX)
                                        text[n++] = c;
                        text[n] = '\0';
                        pam_roles_say(p, kind == CHKPWD_SAY_ERROR ? PAM_ERROR_MSG : PAM_TEXT_INFO, "%s", text);
                } else
                        return;         /* not the protocol: the exit status says what happened */
        }
}

/* The child: the socket as stdin and stdout, /dev/null as stderr, nothing else inherited, no
 * environment. Only async-signal-safe calls: the application may have threads. An application
 * that runs with 0-2 closed (a daemon) gives the socket and /dev/null numbers among 0-2: both
 * are moved above them first, for dup2 onto itself does nothing (the socket would keep its
 * close-on-exec flag and the helper would ask into /dev/null) and a later dup2 would replace
 * the other. F_DUPFD's copies are without close-on-exec. */
static void exec_helper(int fd, char *const argv[]) {
        static char *const envp[] = { NULL };
        int sock = fcntl(fd, F_DUPFD, STDERR_FILENO + 1);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0)
                null = fcntl(null, F_DUPFD, STDERR_FILENO + 1);
        if (sock < 0 || null < 0 || dup2(sock, STDIN_FILENO) < 0 || dup2(sock, STDOUT_FILENO) < 0 ||
            dup2(null, STDERR_FILENO) < 0)
                _exit(ROLES_LOGIN_SYSTEM_ERROR);
        close_range(3, ~0U, 0);
        execve(ROLES_CHKPWD_PATH, argv, envp);
        _exit(127);
}

enum roles_login_result pam_roles_chkpwd(struct pam_roles *p) {
        const char *argv[] = {
                "roles_chkpwd", p->attempt.user,
                p->attempt.no_totp ? CHKPWD_MODE_NO_TOTP :
                p->attempt.totp_required ? CHKPWD_MODE_TOTP_REQUIRED : CHKPWD_MODE_AUTH,
                p->attempt.permission, NULL,
        };
        struct sigaction dfl = { .sa_handler = SIG_DFL }, saved;
        enum roles_login_result result = ROLES_LOGIN_SYSTEM_ERROR;
        int fds[2], status = 0;
        pid_t pid, w;

        /* The helper reads only roles.conf at its compiled-in path: another conf= would have it
         * check another database than the one this stack names. */
        if (p->opt.conf && strcmp(p->opt.conf, ROLES_DEFAULT_CONF) != 0) {
                pam_syslog(p->pamh, LOG_ERR, "conf=%s: without privilege the password is checked by %s, which reads "
                           "only %s", p->opt.conf, ROLES_CHKPWD_PATH, ROLES_DEFAULT_CONF);
                return ROLES_LOGIN_SYSTEM_ERROR;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
                pam_syslog(p->pamh, LOG_ERR, "socketpair: %m");
                return ROLES_LOGIN_SYSTEM_ERROR;
        }
        /* As pam_unix does for unix_chkpwd: an application that ignores SIGCHLD would have the
         * helper reaped before its status is read. */
        sigaction(SIGCHLD, &dfl, &saved);
        pid = fork();
        if (pid == 0)
                exec_helper(fds[1], (char *const *) argv);
        close(fds[1]);
        if (pid < 0) {
                pam_syslog(p->pamh, LOG_ERR, "fork: %m");
                goto out;
        }
        converse(p, fds[0]);
        close(fds[0]);
        fds[0] = -1;
        while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
                ;
        if (w < 0)
                pam_syslog(p->pamh, LOG_ERR, "waiting for %s: %m", ROLES_CHKPWD_PATH);
        else if (WIFEXITED(status) && WEXITSTATUS(status) <= ROLES_LOGIN_RESULT_MAX)
                result = (enum roles_login_result) WEXITSTATUS(status);
        else
                pam_syslog(p->pamh, LOG_ERR, "%s %s %d (is it installed, setuid root?)", ROLES_CHKPWD_PATH,
                           WIFEXITED(status) ? "exited with" : "was killed by signal",
                           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
out:
        if (fds[0] >= 0)
                close(fds[0]);
        sigaction(SIGCHLD, &saved, NULL);
        /* A conversation of ours that failed answers as it failed, as in a root process. */
        if (result != ROLES_LOGIN_OK && p->conv_status != PAM_SUCCESS)
                result = ROLES_LOGIN_CONV_ERROR;
        return result;
}

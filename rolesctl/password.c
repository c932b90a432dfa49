/* SPDX-License-Identifier: MIT */
/* New passwords: read without echo (or from stdin), checked against policy, hashed, wiped. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"

#define LINE_MAX_BYTES (ROLES_PASSWORD_MAX + 2)
/* How much of an overlong line is read and dropped: stdin may never end a line (/dev/zero). */
#define DRAIN_MAX_BYTES ((size_t) 64 << 10)

/* The signal that interrupted a prompt (prompt_tty), or 0. */
static volatile sig_atomic_t prompt_interrupted;

static void interrupt_prompt(int sig) {
        prompt_interrupted = sig;
}

/* One line from fd, without its newline; -E2BIG when longer than ROLES_PASSWORD_MAX. */
static int read_line(int fd, char *buf, size_t size, size_t *ret_len) {
        size_t n = 0;
        for (;;) {
                char ch;
                ssize_t k = read(fd, &ch, 1);
                if (k < 0 && errno == EINTR && !prompt_interrupted)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0 || ch == '\n')
                        break;
                if (n + 1 >= size) {
                        /* Drain the rest of the line so nothing is left for a later reader, but
                         * only so far: the refusal must come in bounded time. */
                        size_t drained = 0;
                        while (drained++ < DRAIN_MAX_BYTES && (k = read(fd, &ch, 1)) == 1 && ch != '\n')
                                ;
                        return -E2BIG;
                }
                buf[n++] = ch;
        }
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        buf[n] = '\0';
        *ret_len = n;
        return 0;
}

/*
 * A line read from the terminal with echo off. A signal that would end us there (^C, ^\, a
 * hangup, a kill) first gives the terminal its echo back, then ends us as it would have: the
 * shell that follows must not be left typing blind. (Signals ignored when we started stay so.)
 */
static int prompt_tty(const char *prompt, char *buf, size_t size, size_t *ret_len) {
        static const int ending[] = { SIGINT, SIGQUIT, SIGHUP, SIGTERM };
        struct sigaction catch = { .sa_handler = interrupt_prompt }, saved[ROLES_N_ELEMENTS(ending)];
        int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        struct termios old, noecho;
        int r;

        if (fd < 0)
                return -ENOTTY;
        prompt_interrupted = 0;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(ending); i++)
                if (sigaction(ending[i], NULL, &saved[i]) == 0 && saved[i].sa_handler != SIG_IGN)
                        sigaction(ending[i], &catch, NULL);     /* no SA_RESTART: the read returns */
        if (tcgetattr(fd, &old) < 0) {
                r = -errno;
                goto out;
        }
        noecho = old;
        noecho.c_lflag &= ~(tcflag_t) (ECHO | ECHONL);
        noecho.c_lflag |= ICANON;
        if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &noecho) < 0) {
                r = -errno;
                goto out;
        }
        r = read_line(fd, buf, size, ret_len);
        tcsetattr(fd, TCSAFLUSH, &old);
        if (write(fd, "\n", 1) < 0 && r == 0)
                r = -errno;
out:
        close(fd);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(ending); i++)
                if (saved[i].sa_handler != SIG_IGN)
                        sigaction(ending[i], &saved[i], NULL);
        if (prompt_interrupted) {
                roles_wipe(buf, size);
                raise(prompt_interrupted);
                r = -EINTR;     /* still here: a handler of ours does not end us */
        }
        return r;
}

int password_read_and_hash(struct cli *c, bool from_stdin, char ret_hash[static 256]) {
        char pw[LINE_MAX_BYTES], again[LINE_MAX_BYTES];
        size_t len = 0, len2 = 0;
        struct roles_hash_params params;
        int r, code = EXIT_OK;

        /* A batch holds the writer lock and secrets.db's write lock: waiting for a password
         * there would stall every login's password change behind a prompt. */
        if (c->in_batch)
                return cli_fail(EXIT_USAGE, "passwords cannot be read inside a batch; set them afterwards with "
                                "rolesctl user passwd NAME --stdin");
        if (from_stdin) {
                r = read_line(STDIN_FILENO, pw, sizeof(pw), &len);
        } else {
                r = prompt_tty("New password: ", pw, sizeof(pw), &len);
                if (r == -ENOTTY) {
                        code = cli_fail(EXIT_USAGE, "no terminal to ask for a password: use --password-stdin (or --stdin)");
                        goto out;
                }
                if (r == 0)
                        r = prompt_tty("Retype new password: ", again, sizeof(again), &len2);
                if (r == 0 && (len != len2 || memcmp(pw, again, len) != 0)) {
                        code = cli_fail(EXIT_USAGE, "the passwords do not match; nothing changed");
                        goto out;
                }
        }
        if (r < 0 && r != -E2BIG) {
                code = cli_fail(EXIT_ERROR, "reading the password: %s", strerror(-r));
                goto out;
        }
        /* The line buffer keeps room for a trailing '\r', so one byte too many fits in it: the
         * policy refuses it as a line too long for the buffer is. */
        if (r == 0)
                r = roles_password_policy_check(pw, len, &c->cfg);
        if (r < 0) {
                char why[128];
                code = cli_fail(EXIT_USAGE, "%s", roles_password_policy_refusal(r, &c->cfg, why, sizeof(why)));
                goto out;
        }
        roles_hash_params_from_config(&c->cfg, &params);
        r = roles_password_hash(pw, len, &params, ret_hash);
        if (r < 0)
                code = cli_fail(EXIT_ERROR, "hashing the password failed: %s", strerror(-r));
out:
        roles_wipe(pw, sizeof(pw));
        roles_wipe(again, sizeof(again));
        return code;
}

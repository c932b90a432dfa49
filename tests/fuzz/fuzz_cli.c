/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: rolesctl's command-line machinery, as a batch line reaches it. The first byte
 * picks how many positionals the command wants; the rest is the line. The line is split into
 * words (quotes, escapes, comments), the words are parsed against an option table like the
 * commands' own, and every error is captured: it must be exactly one line, with no control
 * character in it, however hostile the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt_spec spec[] = {
        { "uid", true }, { "group", true }, { "full-name", true }, { "password-stdin", false },
        { "activation", false }, { "until", true }, { "why", false }, { NULL, false },
};

static bool inside(const char *p, const char *buf, size_t size) {
        return p >= buf && p < buf + size;
}

/* Each error is one line "rolesctl: ...\n" with no other byte below 0x20 and no DEL. */
static void check_error_lines(const char *text, size_t len) {
        if (len > 0 && text[len - 1] != '\n')
                abort();
        for (size_t start = 0; start < len;) {
                const char *nl = memchr(text + start, '\n', len - start);
                size_t end = (size_t) (nl - text);
                if (end - start < 10 || strncmp(text + start, "rolesctl: ", 10) != 0)
                        abort();
                for (size_t i = start; i < end; i++)
                        if ((unsigned char) text[i] < 0x20 || text[i] == 0x7f)
                                abort();
                start = end + 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        size_t n_pos = data[0] % (ARGS_POS_MAX + 1);
        size_t len = size - 1;
        char *line = malloc(len + 1);
        if (!line)
                return 0;
        memcpy(line, data + 1, len);
        line[len] = '\0';
        len = strlen(line);     /* batch refuses a NUL byte before it splits */

        char *errors = NULL;
        size_t errors_len = 0;
        FILE *saved = stderr;
        stderr = open_memstream(&errors, &errors_len);
        if (!stderr)
                abort();

        char *words[16];
        int nw = -1;
        int r = args_split_words(line, words, (int) ROLES_N_ELEMENTS(words), &nw);
        if (r == 0) {
                if (nw < 0 || nw > (int) ROLES_N_ELEMENTS(words))
                        abort();
                for (int i = 0; i < nw; i++) {
                        /* In place, in order, each word ending inside the line. */
                        if (!inside(words[i], line, len + 1) || (i > 0 && words[i] <= words[i - 1]))
                                abort();
                        if (words[i] + strlen(words[i]) > line + len)
                                abort();
                }
                struct args a;
                memset(&a, 0xa5, sizeof(a));
                struct args before = a;
                static const struct command fuzz_cmd = { "fuzz", NULL, NULL, false, "fuzz [--uid N] ...", "fuzz" };
                struct cli c = { .running.cmd = &fuzz_cmd };
                r = args_parse(&c, nw, words, spec, n_pos, &a);
                if (r < 0 && memcmp(&a, &before, sizeof(a)) != 0)
                        abort();        /* untouched on failure */
                if (r == 0) {
                        if (a.n_pos != n_pos)
                                abort();
                        for (size_t i = 0; i < a.n_pos; i++)
                                if (!inside(a.pos[i], line, len + 1))
                                        abort();
                        for (size_t i = 0; i < ROLES_N_ELEMENTS(spec) - 1; i++)
                                if (a.val[i] && a.val[i][0] && !inside(a.val[i], line, len + 1))
                                        abort();
                        for (size_t i = ROLES_N_ELEMENTS(spec) - 1; i < ARGS_OPT_MAX; i++)
                                if (a.val[i])
                                        abort();
                }
        } else if (r != -E2BIG && r != -EINVAL)
                abort();

        /* The line itself, as it would be shown back in an error. */
        cli_fail(EXIT_USAGE, "bad line '%s'", line);

        fclose(stderr);
        stderr = saved;
        check_error_lines(errors, errors_len);
        free(errors);
        free(line);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* A deliberately small option parser: re-entrant (batch runs many command lines), no globals. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"

/* Past this length a word is no typo of a name, and the table below stays small. */
#define SUGGEST_LEN_MAX 64

/* Optimal string alignment distance (Levenshtein, plus a swap of two neighbours as one edit). */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb) {
        size_t d[SUGGEST_LEN_MAX + 1][SUGGEST_LEN_MAX + 1];
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
                        if (d[i - 1][j] + 1 < best)
                                best = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < best)
                                best = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                                best = d[i - 2][j - 2] + 1;
                        d[i][j] = best;
                }
        return d[la][lb];
}

void suggest_init(struct suggest *s, const char *word) {
        *s = (struct suggest) { .word = word, .best_distance = SIZE_MAX };
}

void suggest_offer(struct suggest *s, const char *candidate) {
        size_t lw = strlen(s->word), lc = strlen(candidate);
        if (lw > SUGGEST_LEN_MAX || lc > SUGGEST_LEN_MAX)
                return;
        size_t d = edit_distance(s->word, lw, candidate, lc);
        if (d < s->best_distance) {
                s->best = candidate;
                s->best_distance = d;
        }
}

const char *suggest_best(const struct suggest *s) {
        if (!s->best)
                return NULL;
        size_t len = strlen(s->best);
        return s->best_distance > 0 && s->best_distance <= (len <= 4 ? 1u : 2u) && s->best_distance < len ? s->best
                                                                                                            : NULL;
}

/* "--fulname": the closest option of spec (or help), for "did you mean". */
static const char *closest_option(const struct opt_spec *spec, const char *name, size_t len) {
        char word[SUGGEST_LEN_MAX + 1];
        struct suggest s;
        if (len > SUGGEST_LEN_MAX)
                return NULL;
        memcpy(word, name, len);
        word[len] = '\0';
        suggest_init(&s, word);
        for (size_t k = 0; spec && spec[k].name; k++)
                suggest_offer(&s, spec[k].name);
        suggest_offer(&s, "help");
        return suggest_best(&s);
}

const char *cli_usage(const struct cli *c) {
        return c->running.cmd ? c->running.cmd->usage : "rolesctl COMMAND ...";
}

int args_parse(struct cli *c, int argc, char **argv, const struct opt_spec *spec, size_t n_pos, struct args *ret) {
        const char *usage = cli_usage(c);
        struct args a = { 0 };
        bool only_positionals = false;

        for (int i = 0; i < argc; i++) {
                const char *arg = argv[i];
                if (only_positionals || arg[0] != '-' || arg[1] == '\0') {
                        if (a.n_pos >= ARGS_POS_MAX || a.n_pos >= n_pos)
                                return cli_fail(EXIT_USAGE, "unexpected argument '%.64s'; usage: %s", arg, usage), -EINVAL;
                        a.pos[a.n_pos++] = arg;
                        continue;
                }
                if (strcmp(arg, "--") == 0) {
                        only_positionals = true;
                        continue;
                }
                if (arg[1] != '-')
                        return cli_fail(EXIT_USAGE, "unknown option '%.64s'; usage: %s", arg, usage), -EINVAL;

                const char *name = arg + 2, *eq = strchr(name, '=');
                size_t len = eq ? (size_t) (eq - name) : strlen(name);
                size_t k = 0;
                for (; spec && spec[k].name; k++)
                        if (strlen(spec[k].name) == len && strncmp(spec[k].name, name, len) == 0)
                                break;
                if (!spec || !spec[k].name || k >= ARGS_OPT_MAX) {
                        const char *near = closest_option(spec, name, len);
                        if (near)
                                return cli_fail(EXIT_USAGE, "unknown option '%.64s'; did you mean '--%s'? usage: %s", arg,
                                                near, usage), -EINVAL;
                        return cli_fail(EXIT_USAGE, "unknown option '%.64s'; usage: %s", arg, usage), -EINVAL;
                }
                if (a.val[k])
                        return cli_fail(EXIT_USAGE, "option '--%s' given twice", spec[k].name), -EINVAL;
                if (!spec[k].has_arg) {
                        if (eq)
                                return cli_fail(EXIT_USAGE, "option '--%s' takes no value", spec[k].name), -EINVAL;
                        a.val[k] = "";
                } else if (eq)
                        a.val[k] = eq + 1;
                else if (i + 1 < argc)
                        a.val[k] = argv[++i];
                else
                        return cli_fail(EXIT_USAGE, "option '--%s' needs a value", spec[k].name), -EINVAL;
        }
        if (a.n_pos != n_pos)
                return cli_fail(EXIT_USAGE, "usage: %s", usage), -EINVAL;
        memcpy(c->running.pos, a.pos, sizeof(c->running.pos));
        c->running.n_pos = a.n_pos;
        *ret = a;
        return 0;
}

int args_split_words(char *line, char **words, int max, int *ret_n) {
        int n = 0;
        char *in = line, *out = line;
        for (;;) {
                while (*in == ' ' || *in == '\t')
                        in++;
                if (*in == '\0' || *in == '#')
                        break;
                if (n >= max)
                        return -E2BIG;
                words[n++] = out;
                char quote = 0;
                for (; *in; in++) {
                        if (quote) {
                                if (*in == quote)
                                        quote = 0;
                                else if (*in == '\\' && quote == '"' && (in[1] == '"' || in[1] == '\\'))
                                        *out++ = *++in;
                                else
                                        *out++ = *in;
                        } else if (*in == '\'' || *in == '"')
                                quote = *in;
                        else if (*in == '\\' && in[1])
                                *out++ = *++in;
                        else if (*in == ' ' || *in == '\t')
                                break;
                        else
                                *out++ = *in;
                }
                if (quote)
                        return -EINVAL;
                if (*in)
                        in++;
                *out++ = '\0';
        }
        *ret_n = n;
        return 0;
}

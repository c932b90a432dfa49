/* SPDX-License-Identifier: MIT */
/* A deliberately small option parser: re-entrant (batch runs many command lines), no globals. */
#include <errno.h>
#include <string.h>

#include "cli.h"

const char *cli_usage(const struct cli *c) {
        return c->cmd ? c->cmd->usage : "rolesctl COMMAND ...";
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
                if (!spec || !spec[k].name || k >= ARGS_OPT_MAX)
                        return cli_fail(EXIT_USAGE, "unknown option '%.64s'; usage: %s", arg, usage), -EINVAL;
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

/* SPDX-License-Identifier: MIT */
/* rolesctl help [COMMAND] and COMMAND --help: from the command tables, the one place that says
 * what each command does and how it is called. */
#include <string.h>

#include "cli.h"

/* Wide enough for the longest command name, "metarole unpublish". */
#define NAME_WIDTH 20

static void help_line(FILE *f, const struct command *cmd) {
        char name[64];
        snprintf(name, sizeof(name), "%s%s%s", cmd->noun, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
        fprintf(f, "  %-*s %s\n", NAME_WIDTH, name, cmd->summary);
}

void cli_help_overview(FILE *f) {
        fputs("usage: rolesctl [--conf FILE] [--json] COMMAND [ARGUMENTS]\n"
              "       rolesctl help [COMMAND] | rolesctl COMMAND --help | rolesctl --version\n"
              "\n"
              "--conf FILE and --json may stand anywhere on the line (before a \"--\").\n"
              "\n"
              "commands:\n", f);
        for (size_t i = 0; i < cli_n_commands(); i++)
                help_line(f, cli_command(i));
        fputs("\n'rolesctl help COMMAND' shows a command's arguments and options.\n", f);
}

void cli_help_command(FILE *f, const struct command *cmd) {
        fprintf(f, "%s\nusage: %s\n", cmd->summary, cmd->usage);
}

static bool is_help(const char *arg) {
        return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

bool cli_help_asked(int argc, char *const *argv) {
        for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (is_help(argv[i]))
                        return true;
        return false;
}

bool cli_help_wanted(int argc, char *const *argv) {
        return argc > 0 && (strcmp(argv[0], "help") == 0 || cli_help_asked(argc, argv));
}

/* The commands of a noun ("user"), one line each; false when it has none. */
static bool help_noun(FILE *f, const char *noun) {
        bool any = false;
        for (size_t i = 0; i < cli_n_commands(); i++) {
                const struct command *cmd = cli_command(i);
                if (cmd->verb && strcmp(cmd->noun, noun) == 0) {
                        help_line(f, cmd);
                        any = true;
                }
        }
        return any;
}

int cli_unknown_command(struct cli *c, int argc, char **argv) {
        bool noun = false;
        for (size_t i = 0; i < cli_n_commands(); i++)
                noun = noun || (cli_command(i)->verb && strcmp(cli_command(i)->noun, argv[0]) == 0);
        /* "rolesctl user --help": what user's commands are. */
        if (noun && argc >= 2 && is_help(argv[1])) {
                help_noun(c->out, argv[0]);
                return EXIT_OK;
        }
        if (noun && argc < 2)
                return cli_fail(EXIT_USAGE, "'%s' needs a command after it; see 'rolesctl help %s'", argv[0], argv[0]);

        /* A typo of the verb among the noun's, or of the first word among every command's. */
        struct suggest s;
        suggest_init(&s, noun ? argv[1] : argv[0]);
        for (size_t i = 0; i < cli_n_commands(); i++) {
                const struct command *cmd = cli_command(i);
                if (noun ? cmd->verb && strcmp(cmd->noun, argv[0]) == 0 : true)
                        suggest_offer(&s, noun ? cmd->verb : cmd->noun);
        }
        const char *near = suggest_best(&s);
        if (noun && near)
                return cli_fail(EXIT_USAGE, "unknown command: '%s' has no '%s'; did you mean '%s %s'?", argv[0], argv[1],
                                argv[0], near);
        if (noun)
                return cli_fail(EXIT_USAGE, "unknown command: '%s' has no '%s'; see 'rolesctl help %s'", argv[0],
                                argv[1], argv[0]);
        if (near)
                return cli_fail(EXIT_USAGE, "unknown command '%s'; did you mean '%s'?", argv[0], near);
        return cli_fail(EXIT_USAGE, "unknown command '%s'; see 'rolesctl help'", argv[0]);
}

int cmd_help(struct cli *c, int argc, char **argv) {
        int words;
        if (argc > 0 && argv[0][0] == '-')
                return cli_fail(EXIT_USAGE, "unknown option '%.64s'; usage: %s", argv[0], cli_usage(c));
        if (argc == 0) {
                cli_help_overview(c->out);
                return EXIT_OK;
        }
        const struct command *cmd = cli_find_command(argc, argv, &words);
        if (cmd && words == argc) {
                cli_help_command(c->out, cmd);
                return EXIT_OK;
        }
        if (argc == 1 && help_noun(c->out, argv[0]))
                return EXIT_OK;
        return cli_unknown_command(c, argc, argv);
}

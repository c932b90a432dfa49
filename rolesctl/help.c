/* SPDX-License-Identifier: MIT */
/* rolesctl help [COMMAND] and COMMAND --help: from the command tables, the one place that says
 * what each command does and how it is called. */
#include <errno.h>
#include <stdlib.h>
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
        fputs("usage: rolesctl [--conf FILE] [--source CONNINFO] [--json] COMMAND [ARGUMENTS]\n"
              "       rolesctl help [COMMAND] | rolesctl COMMAND --help | rolesctl --version\n"
              "\n"
              "--conf FILE, --source CONNINFO and --json may stand anywhere on the line (before a \"--\").\n"
              "With a source (roles.conf's 'source' or --source), commands act on the fleet's PostgreSQL.\n"
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
        /* For completion scripts: the "--" keeps main from taking the line's --json and --conf. */
        if (argc >= 2 && strcmp(argv[0], "--complete") == 0 && strcmp(argv[1], "--") == 0)
                return cli_complete(c, argc - 2, argv + 2);
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

/* ---- completion: rolesctl help --complete -- WORD... ----------------------------------------- */

/*
 * What a shell may offer at the cursor, from the command tables alone: a completion script knows
 * no command, option or name of its own, so a command or option added to a table is completed
 * the day it is added. Which argument takes which kind of name is read from the usage lines'
 * placeholders (below). The answer is the kind of word at the cursor on the first line, then
 * the candidates that begin with the word, one a line (rolesctl(8), COMPLETION).
 */
enum complete_kind {
        K_NONE,         /* nothing to offer: free text, a number, or no argument goes there */
        K_COMMAND,
        K_OPTION,
        K_WORD,         /* a word the usage spells out ("enroll|disable") */
        K_USER,
        K_GROUP,
        K_ROLE,
        K_METAROLE,
        K_PERMISSION,
        K_FILE,         /* the shell completes these itself */
        K_DIRECTORY,
};

static const char *const kind_names[] = {
        [K_NONE] = "none", [K_COMMAND] = "command", [K_OPTION] = "option", [K_WORD] = "word",
        [K_USER] = "user", [K_GROUP] = "group", [K_ROLE] = "role", [K_METAROLE] = "metarole",
        [K_PERMISSION] = "permission", [K_FILE] = "file", [K_DIRECTORY] = "directory",
};

/* The usage lines' placeholders and what they name. NAME is the noun's (a new one after "add"),
 * or, as an option's value, what the option is called after (--group NAME, --user NAME). Any
 * other placeholder (N, TEXT, TIME) is a value the shell cannot guess. */
static const struct {
        const char *word;
        enum complete_kind kind;
} placeholder_kinds[] = {
        { "USER", K_USER }, { "GROUP", K_GROUP }, { "ROLE", K_ROLE }, { "CODE", K_METAROLE },
        { "PARENT", K_METAROLE }, { "CHILD", K_METAROLE }, { "PERM", K_PERMISSION }, { "FILE", K_FILE },
        { "PATH", K_FILE }, { "DIR", K_DIRECTORY }, { "COMMAND", K_COMMAND },
};

const char *const cli_top_options[] = { "json", "conf", "source", "help", "version", NULL };

/* A name kind spelt as a word ("group"), or K_NONE. */
static enum complete_kind kind_of_noun(const char *word, size_t n) {
        for (enum complete_kind k = K_USER; k <= K_METAROLE; k++)
                if (strlen(kind_names[k]) == n && strncmp(kind_names[k], word, n) == 0)
                        return k;
        return K_NONE;
}

/* The kind of placeholder word[0..n): owner is the noun or option name it belongs to; a list
 * ("CODE,...") sets *list. */
static enum complete_kind kind_of_placeholder(const char *word, size_t n, const char *owner, size_t owner_n,
                                              bool *list) {
        *list = n > 4 && strncmp(word + n - 4, ",...", 4) == 0;
        if (*list)
                n -= 4;
        if (n == 4 && strncmp(word, "NAME", 4) == 0)
                return owner ? kind_of_noun(owner, owner_n) : K_NONE;
        for (size_t i = 0; i < ROLES_N_ELEMENTS(placeholder_kinds); i++)
                if (strlen(placeholder_kinds[i].word) == n && strncmp(placeholder_kinds[i].word, word, n) == 0)
                        return placeholder_kinds[i].kind;
        return K_NONE;
}

#define USAGE_POS_MAX 8
#define USAGE_OPT_MAX 24

/* A usage line taken apart: its positionals and options in order, each a piece of the line. */
struct usage_word {
        const char *p;
        size_t n;
};
struct usage {
        struct usage_word pos[USAGE_POS_MAX];
        size_t n_pos;
        struct {
                struct usage_word name, value;  /* name without "--"; value.n 0 for a flag */
        } opt[USAGE_OPT_MAX];
        size_t n_opt;
};

/* "rolesctl user add NAME [--uid N] [--group NAME | --gid N] ...": brackets and bars are taken
 * off each word; an option's value is the placeholder right after it inside its brackets. */
static void usage_parse(const struct command *cmd, struct usage *u) {
        const char *p = cmd->usage;
        size_t skip = cmd->verb ? 3 : 2;        /* "rolesctl NOUN [VERB]" */
        bool value_next = false;
        *u = (struct usage) { 0 };
        for (size_t w = 0;; w++) {
                p += strspn(p, " ");
                size_t n = strcspn(p, " ");
                const char *word = p;
                if (n == 0)
                        return;
                p += n;
                if (w < skip)
                        continue;
                while (n > 0 && *word == '[') {
                        word++;
                        n--;
                }
                bool closes = false;
                while (n > 0 && word[n - 1] == ']') {
                        n--;
                        closes = true;
                }
                if (n == 0 || (n == 1 && *word == '|')) {
                        value_next = false;
                        continue;
                }
                if (n > 2 && strncmp(word, "--", 2) == 0) {
                        value_next = !closes && u->n_opt < USAGE_OPT_MAX;
                        if (u->n_opt < USAGE_OPT_MAX)
                                u->opt[u->n_opt++].name = (struct usage_word) { word + 2, n - 2 };
                } else if (value_next && *word >= 'A' && *word <= 'Z') {
                        u->opt[u->n_opt - 1].value = (struct usage_word) { word, n };
                        value_next = false;
                } else if (u->n_pos < USAGE_POS_MAX) {
                        u->pos[u->n_pos++] = (struct usage_word) { word, n };
                        value_next = false;
                }
        }
}

/* The option of u named by arg ("--group" or "--group=..."), or -1. */
static int usage_option(const struct usage *u, const char *arg) {
        if (strncmp(arg, "--", 2) != 0)
                return -1;
        size_t n = strcspn(arg + 2, "=");
        for (size_t i = 0; i < u->n_opt; i++)
                if (u->opt[i].name.n == n && strncmp(u->opt[i].name.p, arg + 2, n) == 0)
                        return (int) i;
        return -1;
}

/* What is being completed: the word so far, whose first lead_n bytes stay as they are
 * ("--group=", the items of a list before its last comma); candidates begin with the rest. */
struct completion {
        FILE *out;
        bool kind_said;
        const char *word;
        size_t lead_n;
        const char *prefix;     /* word + lead_n */
};

static void keep_lead(struct completion *k, const char *end) {
        k->lead_n = (size_t) (end - k->word);
        k->prefix = end;
}

static void say_kind(struct completion *k, enum complete_kind kind) {
        if (k->kind_said)
                return;
        k->kind_said = true;
        fprintf(k->out, "%s\n", kind_names[kind]);
}

static void offer(struct completion *k, const char *candidate, size_t n) {
        if (strlen(k->prefix) > n || strncmp(candidate, k->prefix, strlen(k->prefix)) != 0)
                return;
        fprintf(k->out, "%.*s%.*s\n", (int) k->lead_n, k->word, (int) n, candidate);
}

static void offer_word(struct completion *k, const char *candidate) {
        offer(k, candidate, strlen(candidate));
}

/* The first words of every command, or the verbs of a noun (each once). */
static void offer_commands(struct completion *k, const char *noun) {
        say_kind(k, K_COMMAND);
        for (size_t i = 0; i < cli_n_commands(); i++) {
                const struct command *cmd = cli_command(i);
                if (noun) {
                        if (cmd->verb && strcmp(cmd->noun, noun) == 0)
                                offer_word(k, cmd->verb);
                        continue;
                }
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = strcmp(cli_command(j)->noun, cmd->noun) == 0;
                if (!seen)
                        offer_word(k, cmd->noun);
        }
}

static bool is_noun(const char *word) {
        for (size_t i = 0; i < cli_n_commands(); i++)
                if (cli_command(i)->verb && strcmp(cli_command(i)->noun, word) == 0)
                        return true;
        return false;
}

/* Before a command is named: argv holds the words so far (none, or a noun). */
static void complete_command_words(struct completion *k, int argc, char *const *argv) {
        if (argc == 0)
                offer_commands(k, NULL);
        else if (argc == 1 && is_noun(argv[0]))
                offer_commands(k, argv[0]);
        else
                say_kind(k, K_NONE);
}

/* Names from roles.db: the listing's column, or (column NULL) the first. */
struct name_column {
        struct completion *k;
        const char *column;
        char **collect;         /* permissions, gathered to be sorted and offered once each */
        size_t n_collect;
};

static int offer_row(void *userdata, size_t n, const char *const *names, const char *const *values,
                     const enum roles_cell *kinds) {
        struct name_column *nc = userdata;
        (void) kinds;
        for (size_t i = 0; i < n; i++) {
                if (strcmp(names[i], nc->column) != 0 || !values[i])
                        continue;
                if (!nc->collect) {
                        offer_word(nc->k, values[i]);
                        return 0;
                }
                char **grown = reallocarray(nc->collect, nc->n_collect + 2, sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                nc->collect = grown;
                if (!(grown[nc->n_collect] = strdup(values[i])))
                        return -ENOMEM;
                grown[++nc->n_collect] = NULL;
                return 0;
        }
        return 0;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Permission codes the metaroles carry: those most worth offering, and few. */
static void offer_permissions(struct completion *k, struct roles_snapshot *s) {
        struct name_column codes = { k, "code", calloc(1, sizeof(char *)), 0 };
        struct name_column perms = { k, "permission", calloc(1, sizeof(char *)), 0 };
        if (codes.collect && perms.collect && roles_snapshot_list(s, ROLES_LIST_METAROLES, NULL, offer_row, &codes) >= 0)
                for (size_t i = 0; i < codes.n_collect; i++)
                        if (roles_snapshot_list(s, ROLES_LIST_METAROLE_PERMS, codes.collect[i], offer_row, &perms) < 0)
                                break;
        if (perms.collect)
                qsort(perms.collect, perms.n_collect, sizeof(char *), compare_strings);
        for (size_t i = 0; i < perms.n_collect; i++)
                if (i == 0 || strcmp(perms.collect[i], perms.collect[i - 1]) != 0)
                        offer_word(k, perms.collect[i]);
        for (size_t i = 0; i < codes.n_collect; i++)
                free(codes.collect[i]);
        for (size_t i = 0; i < perms.n_collect; i++)
                free(perms.collect[i]);
        free(codes.collect);
        free(perms.collect);
}

/*
 * Names of a kind, read from roles.db as the configuration (--conf FILE, $ROLES_CONF or the
 * default) places it. Completion runs at every Tab of whoever types: a configuration or a
 * database that cannot be read offers nothing and says nothing.
 */
static void offer_names(struct completion *k, enum complete_kind kind, const char *conf) {
        static const struct {
                enum complete_kind kind;
                enum roles_listing what;
                const char *column;
        } sources[] = {
                { K_USER, ROLES_LIST_USERS, "name" },
                { K_GROUP, ROLES_LIST_GROUPS, "name" },
                { K_ROLE, ROLES_LIST_ROLES, "name" },
                { K_METAROLE, ROLES_LIST_METAROLES, "code" },
        };
        struct roles_config cfg;
        struct roles_snapshot *s = NULL;
        say_kind(k, kind);
        if (cli_load_config(&cfg, conf, NULL, 0) < 0 || roles_snapshot_open(&cfg, 0, &s, NULL, 0) < 0)
                return;
        if (kind == K_PERMISSION)
                offer_permissions(k, s);
        for (size_t i = 0; i < ROLES_N_ELEMENTS(sources); i++)
                if (sources[i].kind == kind) {
                        struct name_column nc = { k, sources[i].column, NULL, 0 };
                        (void) roles_snapshot_list(s, sources[i].what, NULL, offer_row, &nc);
                }
        roles_snapshot_close(s);
}

/* The value of an option (or a positional) whose placeholder is value, owned by owner. */
static void complete_value(struct completion *k, struct usage_word value, struct usage_word owner, const char *conf) {
        bool list;
        enum complete_kind kind = kind_of_placeholder(value.p, value.n, owner.p, owner.n, &list);
        if (list) {
                /* "a,b,c": the items before the last comma stay as they are. */
                const char *comma = strrchr(k->prefix, ',');
                if (comma)
                        keep_lead(k, comma + 1);
        }
        if (kind == K_COMMAND)
                complete_command_words(k, 0, NULL);
        else if (kind >= K_USER && kind <= K_PERMISSION)
                offer_names(k, kind, conf);
        else
                say_kind(k, kind);
}

/* The words after cmd's name up to the cursor's word, which is k->prefix. */
static void complete_arguments(struct completion *k, const struct command *cmd, int argc, char *const *argv,
                               const char *conf) {
        struct usage u;
        bool given[USAGE_OPT_MAX] = { false }, only_positionals = false, list;
        char *pos[USAGE_POS_MAX];
        int n_pos = 0;
        usage_parse(cmd, &u);
        const struct usage_word noun = { cmd->noun, strlen(cmd->noun) };

        for (int i = 0; i < argc; i++) {
                int o = only_positionals ? -1 : usage_option(&u, argv[i]);
                if (!only_positionals && strcmp(argv[i], "--") == 0)
                        only_positionals = true;
                else if (o >= 0) {
                        given[o] = true;
                        if (u.opt[o].value.n && !strchr(argv[i], '=') && ++i == argc) {
                                /* The cursor is on this option's value. */
                                complete_value(k, u.opt[o].value, u.opt[o].name, conf);
                                return;
                        }
                } else if (only_positionals || argv[i][0] != '-' || argv[i][1] == '\0') {
                        if (n_pos < USAGE_POS_MAX)
                                pos[n_pos++] = argv[i];
                }
        }

        const char *cur = k->prefix;
        int o = only_positionals ? -1 : usage_option(&u, cur);
        if (o >= 0 && strchr(cur, '=')) {
                /* --group=st: the value, the option staying in front of it. */
                keep_lead(k, strchr(cur, '=') + 1);
                complete_value(k, u.opt[o].value, u.opt[o].name, conf);
        } else if (!only_positionals && cur[0] == '-') {
                say_kind(k, K_OPTION);
                for (size_t i = 0; i < u.n_opt; i++) {
                        char name[64];
                        snprintf(name, sizeof(name), "--%.*s", (int) u.opt[i].name.n, u.opt[i].name.p);
                        if (!given[i])
                                offer_word(k, name);
                }
                offer_word(k, "--help");
        } else if (u.n_pos > 0 && kind_of_placeholder(u.pos[0].p, u.pos[0].n, NULL, 0, &list) == K_COMMAND) {
                /* help COMMAND: a command's words, however many. */
                complete_command_words(k, n_pos, pos);
        } else if ((size_t) n_pos >= u.n_pos)
                say_kind(k, K_NONE);
        else if (u.pos[n_pos].p[0] >= 'a' && u.pos[n_pos].p[0] <= 'z') {
                /* "enroll|disable": the words themselves. */
                say_kind(k, K_WORD);
                for (const char *w = u.pos[n_pos].p, *end = w + u.pos[n_pos].n; w < end;) {
                        size_t n = strcspn(w, "|");
                        if (n > (size_t) (end - w))
                                n = (size_t) (end - w);
                        offer(k, w, n);
                        w += n + 1;
                }
        } else if (n_pos == 0 && cmd->verb && strcmp(cmd->verb, "add") == 0)
                say_kind(k, K_NONE);    /* the name of what is added: a new one */
        else
                complete_value(k, u.pos[n_pos], noun, conf);
}

int cli_complete(struct cli *c, int argc, char **argv) {
        struct completion k = { .out = c->out, .word = argc > 0 ? argv[argc - 1] : "" };
        const char *conf = NULL;
        char *rest[64];
        int n = 0;

        /* rolesctl's own options stand anywhere before a "--", as main takes them. */
        int i = 0;
        for (; i < argc - 1 && strcmp(argv[i], "--") != 0; i++) {
                int g = cli_global_option(argv[i]);
                if (g == 1 && strncmp(argv[i], "--conf=", 7) == 0)
                        conf = argv[i] + 7;
                else if (g == 2 && ++i < argc - 1)
                        conf = argv[i];
                else if (g == 2) {
                        say_kind(&k, K_FILE);
                        return EXIT_OK;
                } else if (g == 0 && n < (int) ROLES_N_ELEMENTS(rest))
                        rest[n++] = argv[i];
        }
        for (; i < argc - 1 && n < (int) ROLES_N_ELEMENTS(rest); i++)
                rest[n++] = argv[i];

        int words;
        const struct command *cmd = cli_find_command(n, rest, &words);
        k.prefix = k.word;
        if (strncmp(k.word, "--conf=", 7) == 0) {
                keep_lead(&k, k.word + 7);
                say_kind(&k, K_FILE);
        } else if (cmd)
                complete_arguments(&k, cmd, n - words, rest + words, conf);
        else if (k.prefix[0] == '-') {
                say_kind(&k, K_OPTION);
                for (size_t o = 0; cli_top_options[o]; o++) {
                        char name[32];
                        snprintf(name, sizeof(name), "--%s", cli_top_options[o]);
                        offer_word(&k, name);
                }
        } else
                complete_command_words(&k, n, rest);
        return EXIT_OK;
}

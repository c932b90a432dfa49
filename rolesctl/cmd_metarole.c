/* SPDX-License-Identifier: MIT */
/* rolesctl metarole ... */
#include <string.h>

#include "cli.h"

static int find(struct cli *c, struct roles_snapshot *s, const char *code, struct roles_metarole *ret) {
        int r = roles_metarole_by_code(s, code, ret);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int metarole_add(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = {
                { "name", true }, { "description", true }, { "includes", true }, { NULL, false },
        };
        struct roles_metarole m = { 0 };
        struct roles_writer *s;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, spec, 1, &a) < 0)
                return EXIT_USAGE;
        if (roles_strcpy(m.code, sizeof(m.code), a.pos[0]) < 0 || !roles_name_valid(m.code))
                return cli_fail(EXIT_USAGE, "invalid metarole code '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                                a.pos[0], ROLES_NAME_MAX);
        if ((args_opt(&a, 0) && roles_strcpy(m.name, sizeof(m.name), args_opt(&a, 0)) < 0) ||
            (args_opt(&a, 1) && roles_strcpy(m.description, sizeof(m.description), args_opt(&a, 1)) < 0))
                return cli_fail(EXIT_USAGE, "name or description longer than %d bytes", ROLES_TEXT_MAX);
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        if ((r = roles_metarole_add(s, &m)) < 0)
                return cli_fail_store(c, r);

        /* --includes a,b,c: each must exist; a cycle is impossible for a brand-new metarole. */
        const char *list = args_opt(&a, 2);
        while (list && *list) {
                char code[ROLES_NAME_MAX + 2];
                size_t n = strcspn(list, ",");
                struct roles_metarole child;
                if (n == 0 || n > ROLES_NAME_MAX)
                        return cli_fail(EXIT_USAGE, "invalid --includes list");
                memcpy(code, list, n);
                code[n] = '\0';
                list += n + (list[n] == ',');
                if ((r = find(c, roles_writer_snapshot(s), code, &child)) != EXIT_OK)
                        return r;
                if ((r = roles_metarole_include(s, &m, &child)) < 0)
                        return cli_fail_store(c, r);
        }
        return EXIT_OK;
}

static int metarole_del(struct cli *c, int argc, char **argv) {
        struct roles_metarole m;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK || (r = find(c, roles_writer_snapshot(s), a.pos[0], &m)) != EXIT_OK)
                return r;
        r = roles_metarole_delete(s, &m);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int metarole_show(struct cli *c, int argc, char **argv) {
        struct roles_metarole m;
        struct roles_snapshot *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_snapshot(c, 0, &s)) != EXIT_OK || (r = find(c, s, a.pos[0], &m)) != EXIT_OK)
                return r;
        const struct out_section sections[] = {
                { "metarole", ROLES_LIST_METAROLES, m.code, true },
                { "includes", ROLES_LIST_METAROLE_INCLUDES, m.code, false },
                { "permissions", ROLES_LIST_METAROLE_PERMS, m.code, false },
                { "roles", ROLES_LIST_METAROLE_ROLES, m.code, false },
        };
        return out_show(c, sections, ROLES_N_ELEMENTS(sections));
}

static int metarole_list(struct cli *c, int argc, char **argv) {
        struct args a;
        if (args_parse(c, argc, argv, NULL, 0, &a) < 0)
                return EXIT_USAGE;
        return out_list(c, ROLES_LIST_METAROLES, NULL);
}

static int edge(struct cli *c, int argc, char **argv, bool include) {
        struct roles_metarole parent, child;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 2, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK || (r = find(c, roles_writer_snapshot(s), a.pos[0], &parent)) != EXIT_OK ||
            (r = find(c, roles_writer_snapshot(s), a.pos[1], &child)) != EXIT_OK)
                return r;
        r = include ? roles_metarole_include(s, &parent, &child) : roles_metarole_exclude(s, &parent, &child);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int metarole_include(struct cli *c, int argc, char **argv) {
        return edge(c, argc, argv, true);
}

static int metarole_exclude(struct cli *c, int argc, char **argv) {
        return edge(c, argc, argv, false);
}

static int perm(struct cli *c, int argc, char **argv, bool grant) {
        struct roles_metarole m;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 2, &a) < 0)
                return EXIT_USAGE;
        if (!roles_perm_valid(a.pos[1], true))
                return cli_fail(EXIT_USAGE, "invalid permission '%.64s': dotted lower-case words (a.b.c, or a.b.* for a subtree)",
                                a.pos[1]);
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK || (r = find(c, roles_writer_snapshot(s), a.pos[0], &m)) != EXIT_OK)
                return r;
        r = grant ? roles_metarole_grant(s, &m, a.pos[1]) : roles_metarole_revoke(s, &m, a.pos[1]);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int metarole_grant(struct cli *c, int argc, char **argv) {
        return perm(c, argc, argv, true);
}

static int metarole_revoke(struct cli *c, int argc, char **argv) {
        return perm(c, argc, argv, false);
}

static int metarole_publish(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "gid", true }, { "force", false }, { NULL, false } };
        uint32_t gid = ROLES_ID_INVALID;
        struct roles_metarole m;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, spec, 1, &a) < 0)
                return EXIT_USAGE;
        if (args_opt(&a, 0) && roles_parse_id(args_opt(&a, 0), &gid) < 0)
                return cli_fail(EXIT_USAGE, "invalid gid '%.32s'", args_opt(&a, 0));
        if ((args_opt(&a, 0) && (r = cli_check_local_id(c, gid, true)) != EXIT_OK) ||
            (r = cli_check_local_name(c, a.pos[0], true)) != EXIT_OK ||
            (r = cli_writer(c, 0, &s)) != EXIT_OK || (r = find(c, roles_writer_snapshot(s), a.pos[0], &m)) != EXIT_OK)
                return r;
        /* --force: the gid asked for may be one a deleted group had. */
        roles_writer_allow_retired_ids(s, args_opt(&a, 1) != NULL);
        r = roles_metarole_publish(s, &m, gid);
        roles_writer_allow_retired_ids(s, false);
        if (r < 0)
                return cli_fail_store(c, r);
        cli_answer_number(c, "gid", m.gid);
        return EXIT_OK;
}

static int metarole_unpublish(struct cli *c, int argc, char **argv) {
        struct roles_metarole m;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK || (r = find(c, roles_writer_snapshot(s), a.pos[0], &m)) != EXIT_OK)
                return r;
        r = roles_metarole_unpublish(s, &m);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

const struct command metarole_commands[] = {
        { "metarole", "add", metarole_add, true,
          "rolesctl metarole add CODE [--name TEXT] [--description TEXT] [--includes CODE,...]",
          "Create a metarole: a named set of permissions" },
        { "metarole", "del", metarole_del, true,
          "rolesctl metarole del CODE",
          "Delete a metarole" },
        { "metarole", "show", metarole_show, true,
          "rolesctl metarole show CODE",
          "Show a metarole, what it includes, its permissions and its roles" },
        { "metarole", "list", metarole_list, true,
          "rolesctl metarole list",
          "List the metaroles" },
        { "metarole", "include", metarole_include, true,
          "rolesctl metarole include PARENT CHILD",
          "Give a metarole everything another one grants" },
        { "metarole", "exclude", metarole_exclude, true,
          "rolesctl metarole exclude PARENT CHILD",
          "Undo an include" },
        { "metarole", "grant", metarole_grant, true,
          "rolesctl metarole grant CODE PERM",
          "Grant a permission (a.b.c, or a.b.* for a subtree) to a metarole" },
        { "metarole", "revoke", metarole_revoke, true,
          "rolesctl metarole revoke CODE PERM",
          "Take a permission from a metarole" },
        { "metarole", "publish", metarole_publish, true,
          "rolesctl metarole publish CODE [--gid N] [--force]",
          "Serve a metarole as a group whose members are its current holders" },
        { "metarole", "unpublish", metarole_unpublish, true,
          "rolesctl metarole unpublish CODE",
          "Stop serving a metarole as a group" },
};
const size_t n_metarole_commands = ROLES_N_ELEMENTS(metarole_commands);

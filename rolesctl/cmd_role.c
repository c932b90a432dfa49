/* SPDX-License-Identifier: MIT */
/* rolesctl role ... */
#include <string.h>

#include "cli.h"

static int find(struct cli *c, struct roles_snapshot *s, const char *name, struct roles_role *ret) {
        int r = roles_role_by_name(s, name, ret);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int role_add(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "metarole", true }, { "description", true }, { NULL, false } };
        struct roles_role role = { 0 };
        struct roles_writer *s;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, spec, 1, &a) < 0)
                return EXIT_USAGE;
        if (!args_opt(&a, 0))
                return cli_fail(EXIT_USAGE, "a role needs exactly one metarole: --metarole CODE; usage: %s", cli_usage(c));
        if (roles_strcpy(role.name, sizeof(role.name), a.pos[0]) < 0 || !roles_name_valid(role.name))
                return cli_fail(EXIT_USAGE, "invalid role name '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                                a.pos[0], ROLES_NAME_MAX);
        if (roles_strcpy(role.metarole, sizeof(role.metarole), args_opt(&a, 0)) < 0)
                return cli_fail(EXIT_USAGE, "invalid metarole code '%.40s'", args_opt(&a, 0));
        if (args_opt(&a, 1) && roles_strcpy(role.description, sizeof(role.description), args_opt(&a, 1)) < 0)
                return cli_fail(EXIT_USAGE, "description longer than %d bytes", ROLES_TEXT_MAX);
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        r = roles_role_add(s, &role);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int role_del(struct cli *c, int argc, char **argv) {
        struct roles_role role;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK || (r = find(c, roles_writer_snapshot(s), a.pos[0], &role)) != EXIT_OK)
                return r;
        r = roles_role_delete(s, &role);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int role_show(struct cli *c, int argc, char **argv) {
        struct roles_role role;
        struct roles_snapshot *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_snapshot(c, 0, &s)) != EXIT_OK || (r = find(c, s, a.pos[0], &role)) != EXIT_OK)
                return r;
        const struct out_section sections[] = {
                { "role", ROLES_LIST_ROLES, role.name, true },
                { "permissions", ROLES_LIST_ROLE_PERMS, role.name, false },
                { "users", ROLES_LIST_ROLE_USERS, role.name, false },
        };
        return out_show(c, sections, ROLES_N_ELEMENTS(sections));
}

static int role_list(struct cli *c, int argc, char **argv) {
        struct args a;
        if (args_parse(c, argc, argv, NULL, 0, &a) < 0)
                return EXIT_USAGE;
        return out_list(c, ROLES_LIST_ROLES, NULL);
}

enum perm_op { GRANT, REVOKE, DISABLE, ENABLE };

static int perm(struct cli *c, int argc, char **argv, enum perm_op op) {
        struct roles_role role;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 2, &a) < 0)
                return EXIT_USAGE;
        if (!roles_perm_valid(a.pos[1], true))
                return cli_fail(EXIT_USAGE, "invalid permission '%.64s': dotted lower-case words (a.b.c, or a.b.* for a subtree)",
                                a.pos[1]);
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK || (r = find(c, roles_writer_snapshot(s), a.pos[0], &role)) != EXIT_OK)
                return r;
        switch (op) {
        case GRANT:   r = roles_role_grant(s, &role, a.pos[1]); break;
        case REVOKE:  r = roles_role_revoke(s, &role, a.pos[1]); break;
        case DISABLE: r = roles_role_set_disabled(s, &role, a.pos[1], true); break;
        case ENABLE:  r = roles_role_set_disabled(s, &role, a.pos[1], false); break;
        }
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int role_grant(struct cli *c, int argc, char **argv) {
        return perm(c, argc, argv, GRANT);
}

static int role_revoke(struct cli *c, int argc, char **argv) {
        return perm(c, argc, argv, REVOKE);
}

static int role_disable(struct cli *c, int argc, char **argv) {
        return perm(c, argc, argv, DISABLE);
}

static int role_enable(struct cli *c, int argc, char **argv) {
        return perm(c, argc, argv, ENABLE);
}

static int role_assign(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "until", true }, { NULL, false } };
        struct roles_role role;
        struct roles_user u;
        struct roles_writer *s;
        struct args a;
        int64_t until = 0;
        int r;
        if (args_parse(c, argc, argv, spec, 2, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        if (args_opt(&a, 0) && roles_parse_time(args_opt(&a, 0), roles_snapshot_now(roles_writer_snapshot(s)), &until) < 0)
                return cli_fail(EXIT_USAGE, "invalid time '%.32s': use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z, @EPOCH "
                                "or +N[smhdw]", args_opt(&a, 0));
        if ((r = find(c, roles_writer_snapshot(s), a.pos[0], &role)) != EXIT_OK)
                return r;
        if ((r = roles_user_by_name(roles_writer_snapshot(s), a.pos[1], &u)) < 0 || (r = roles_role_assign(s, &role, &u, until)) < 0)
                return cli_fail_store(c, r);
        return EXIT_OK;
}

static int role_unassign(struct cli *c, int argc, char **argv) {
        struct roles_role role;
        struct roles_user u;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 2, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK || (r = find(c, roles_writer_snapshot(s), a.pos[0], &role)) != EXIT_OK)
                return r;
        if ((r = roles_user_by_name(roles_writer_snapshot(s), a.pos[1], &u)) < 0 || (r = roles_role_unassign(s, &role, &u)) < 0)
                return cli_fail_store(c, r);
        return EXIT_OK;
}

const struct command role_commands[] = {
        { "role", "add", role_add, true,
          "rolesctl role add NAME --metarole CODE [--description TEXT]",
          "Create a role on a metarole" },
        { "role", "del", role_del, true,
          "rolesctl role del NAME",
          "Delete a role" },
        { "role", "show", role_show, true,
          "rolesctl role show NAME",
          "Show a role, its permissions and its users" },
        { "role", "list", role_list, true,
          "rolesctl role list",
          "List the roles" },
        { "role", "grant", role_grant, true,
          "rolesctl role grant ROLE PERM",
          "Grant a permission to a role, beside its metarole" },
        { "role", "revoke", role_revoke, true,
          "rolesctl role revoke ROLE PERM",
          "Take a permission from a role" },
        { "role", "disable", role_disable, true,
          "rolesctl role disable ROLE PERM",
          "Switch off, for this role, a permission its metarole grants" },
        { "role", "enable", role_enable, true,
          "rolesctl role enable ROLE PERM",
          "Undo a disable" },
        { "role", "assign", role_assign, true,
          "rolesctl role assign ROLE USER [--until TIME]",
          "Give a user a role, until TIME if given" },
        { "role", "unassign", role_unassign, true,
          "rolesctl role unassign ROLE USER",
          "Take a role from a user" },
};
const size_t n_role_commands = ROLES_N_ELEMENTS(role_commands);

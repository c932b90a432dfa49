/* SPDX-License-Identifier: MIT */
/* rolesctl group ... */
#include <string.h>

#include "cli.h"

static int group_add(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "gid", true }, { "description", true }, { "force", false }, { NULL, false } };
        struct roles_group g = { .gid = ROLES_ID_INVALID };
        struct roles_writer *s;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, spec, 1, &a) < 0)
                return EXIT_USAGE;
        if (roles_strcpy(g.name, sizeof(g.name), a.pos[0]) < 0 || !roles_name_valid(g.name))
                return cli_fail(EXIT_USAGE, "invalid group name '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                                a.pos[0], ROLES_NAME_MAX);
        if (args_opt(&a, 0) && roles_parse_id(args_opt(&a, 0), &g.gid) < 0)
                return cli_fail(EXIT_USAGE, "invalid gid '%.32s'", args_opt(&a, 0));
        if (args_opt(&a, 1) && roles_strcpy(g.description, sizeof(g.description), args_opt(&a, 1)) < 0)
                return cli_fail(EXIT_USAGE, "description longer than %d bytes", ROLES_TEXT_MAX);
        if ((args_opt(&a, 0) && (r = cli_check_local_id(c, g.gid, true)) != EXIT_OK) ||
            (r = cli_check_local_name(c, g.name, true)) != EXIT_OK || (r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        /* --force: the gid asked for may be one a deleted group had. */
        roles_writer_allow_retired_ids(s, args_opt(&a, 2) != NULL);
        r = roles_group_add(s, &g);
        roles_writer_allow_retired_ids(s, false);
        if (r < 0)
                return cli_fail_store(c, r);
        cli_answer_number(c, "gid", g.gid);
        return EXIT_OK;
}

static int group_del(struct cli *c, int argc, char **argv) {
        struct roles_group g;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        if ((r = roles_group_by_name(roles_writer_snapshot(s), a.pos[0], &g)) < 0 || (r = roles_group_delete(s, &g)) < 0)
                return cli_fail_store(c, r);
        return EXIT_OK;
}

static int group_show(struct cli *c, int argc, char **argv) {
        struct roles_group g;
        struct roles_snapshot *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_snapshot(c, 0, &s)) != EXIT_OK)
                return r;
        if ((r = roles_group_by_name(s, a.pos[0], &g)) < 0)
                return cli_fail_store(c, r);
        const struct out_section sections[] = {
                { "group", ROLES_LIST_GROUPS, g.name, true },
                { "members", ROLES_LIST_GROUP_MEMBERS, g.name, false },
        };
        return out_show(c, sections, ROLES_N_ELEMENTS(sections));
}

static int group_list(struct cli *c, int argc, char **argv) {
        struct args a;
        if (args_parse(c, argc, argv, NULL, 0, &a) < 0)
                return EXIT_USAGE;
        return out_list(c, ROLES_LIST_GROUPS, NULL);
}

static int membership(struct cli *c, int argc, char **argv, bool add) {
        struct roles_group g;
        struct roles_user u;
        struct roles_writer *s;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, NULL, 2, &a) < 0)
                return EXIT_USAGE;
        if ((r = cli_writer(c, 0, &s)) != EXIT_OK)
                return r;
        if ((r = roles_group_by_name(roles_writer_snapshot(s), a.pos[0], &g)) < 0 || (r = roles_user_by_name(roles_writer_snapshot(s), a.pos[1], &u)) < 0 ||
            (r = add ? roles_group_add_member(s, &g, &u) : roles_group_remove_member(s, &g, &u)) < 0)
                return cli_fail_store(c, r);
        return EXIT_OK;
}

static int group_adduser(struct cli *c, int argc, char **argv) {
        return membership(c, argc, argv, true);
}

static int group_deluser(struct cli *c, int argc, char **argv) {
        return membership(c, argc, argv, false);
}

const struct command group_commands[] = {
        { "group", "add", group_add, true,
          "rolesctl group add NAME [--gid N] [--description TEXT] [--force]",
          "Create a group" },
        { "group", "del", group_del, true,
          "rolesctl group del NAME",
          "Delete a group" },
        { "group", "show", group_show, true,
          "rolesctl group show NAME",
          "Show a group and its members" },
        { "group", "list", group_list, true,
          "rolesctl group list",
          "List the groups" },
        { "group", "adduser", group_adduser, true,
          "rolesctl group adduser GROUP USER",
          "Make a user a member of a group" },
        { "group", "deluser", group_deluser, true,
          "rolesctl group deluser GROUP USER",
          "Remove a user from a group" },
};
const size_t n_group_commands = ROLES_N_ELEMENTS(group_commands);

/* SPDX-License-Identifier: MIT */
/* rolesctl user ... */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"
#include "proc_uid.h"
#include "qr.h"

/* Options shared by add and mod, in this order in both specs. */
enum { O_GROUP, O_GID, O_FULL_NAME, O_HOME, O_SHELL, O_EMAIL, O_EXPIRES, O_UID, O_PASSWORD_STDIN, O_ACTIVATION, O_FORCE };

static const struct opt_spec add_spec[] = {
        [O_GROUP] = { "group", true }, [O_GID] = { "gid", true }, [O_FULL_NAME] = { "full-name", true },
        [O_HOME] = { "home", true }, [O_SHELL] = { "shell", true }, [O_EMAIL] = { "email", true },
        [O_EXPIRES] = { "expires", true }, [O_UID] = { "uid", true },
        [O_PASSWORD_STDIN] = { "password-stdin", false }, [O_ACTIVATION] = { "activation", false },
        [O_FORCE] = { "force", false },
        { NULL, false },
};
static const struct opt_spec mod_spec[] = {
        [O_GROUP] = { "group", true }, [O_GID] = { "gid", true }, [O_FULL_NAME] = { "full-name", true },
        [O_HOME] = { "home", true }, [O_SHELL] = { "shell", true }, [O_EMAIL] = { "email", true },
        [O_EXPIRES] = { "expires", true },
        { NULL, false },
};

static int find_user(struct cli *c, struct roles_snapshot *s, const char *name, struct roles_user *ret) {
        int r = roles_user_by_name(s, name, ret);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

/* Open the writer and find the user named in the first positional. */
static int writer_and_user(struct cli *c, const char *name, struct roles_writer **ret_s, struct roles_user *ret_u) {
        int r = cli_writer(c, 0, ret_s);
        return r != EXIT_OK ? r : find_user(c, roles_writer_snapshot(*ret_s), name, ret_u);
}

static int simple_args(struct cli *c, int argc, char **argv, struct args *a) {
        return args_parse(c, argc, argv, NULL, 1, a) < 0 ? EXIT_USAGE : EXIT_OK;
}

/* Apply the field options of add/mod to u; gid from --group needs the store. */
static int apply_fields(struct cli *c, struct roles_writer *s, const struct args *a, struct roles_user *u) {
        const char *v;
        char why[ROLES_WHY_MAX];
        int r;

        if (args_opt(a, O_GROUP) && args_opt(a, O_GID))
                return cli_fail(EXIT_USAGE, "give --group or --gid, not both");
        if ((v = args_opt(a, O_GROUP))) {
                struct roles_group g;
                if ((r = roles_group_by_name(roles_writer_snapshot(s), v, &g)) < 0)
                        return cli_fail_store(c, r);
                u->gid = g.gid;
        }
        if ((v = args_opt(a, O_GID)) && roles_parse_id(v, &u->gid) < 0)
                return cli_fail(EXIT_USAGE, "invalid gid '%.32s'", v);
        if (v && (r = cli_check_local_id(c, u->gid, true)) != EXIT_OK)
                return r;
        if ((v = args_opt(a, O_FULL_NAME)) && roles_strcpy(u->gecos, sizeof(u->gecos), v) < 0)
                return cli_fail(EXIT_USAGE, "full name longer than %d bytes", ROLES_TEXT_MAX);
        /* An empty value (an unset shell variable, as often as not) is no directory: add would
         * have taken it for the default without a word. */
        for (int o = O_HOME; o <= O_SHELL; o++)
                if ((v = args_opt(a, o)) && !*v)
                        return cli_fail(EXIT_USAGE, "--%s: empty (leave the option out instead)", add_spec[o].name);
        if ((v = args_opt(a, O_HOME)) && roles_strcpy(u->home, sizeof(u->home), v) < 0)
                return cli_fail(EXIT_USAGE, "home directory longer than %d bytes", ROLES_TEXT_MAX);
        if ((v = args_opt(a, O_SHELL)) && roles_strcpy(u->shell, sizeof(u->shell), v) < 0)
                return cli_fail(EXIT_USAGE, "shell longer than %d bytes", ROLES_TEXT_MAX);
        if ((v = args_opt(a, O_EXPIRES))) {
                if (strcmp(v, "never") == 0)
                        u->expires_at = 0;
                else if (roles_parse_time(v, roles_snapshot_now(roles_writer_snapshot(s)), &u->expires_at) < 0)
                        return cli_fail(EXIT_USAGE, "invalid date '%.32s': use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z, "
                                        "@EPOCH, +N[smhdw] or never", v);
        }
        if ((v = args_opt(a, O_EMAIL)) && *v && roles_email_check(v, why, sizeof(why)) < 0)
                return cli_fail(EXIT_USAGE, "invalid email address: %s", why);
        return EXIT_OK;
}

int cli_issue_code(struct cli *c, struct roles_writer *s, const struct roles_user *u, enum roles_code_kind kind) {
        char code[ROLES_CODE_TEXT_LEN + 1];
        uint8_t hash[ROLES_CODE_HASH_LEN];
        uint32_t ttl = kind == ROLES_CODE_ACTIVATION ? c->cfg.activation_ttl : c->cfg.reset_ttl;
        const char *what = kind == ROLES_CODE_ACTIVATION ? "activation" : "reset";
        int r;

        if ((r = roles_code_new(code)) < 0 || (r = roles_code_hash(code, u->uuid, hash)) < 0)
                return cli_fail(EXIT_ERROR, "cannot make a code: %s", strerror(-r));
        int64_t expires = (int64_t) roles_snapshot_now(roles_writer_snapshot(s)) + ttl;
        char when[21];
        r = roles_secret_put_code(s, u->uuid, kind, hash, expires);
        if (r >= 0)
                r = roles_audit(s, kind == ROLES_CODE_ACTIVATION ? "user.activation" : "user.reset", u->name,
                                "expires_at=%s", roles_format_end(expires, when));
        if (r < 0) {
                roles_wipe(code, sizeof(code));
                return cli_fail_store(c, r);
        }
        if (c->json) {
                char key[32];
                snprintf(key, sizeof(key), "%s_code", what);
                cli_answer_text(c, key, code);
                cli_answer_text(c, "expires", roles_format_time(expires, when));
        } else
                fprintf(c->out, "%s code for %s: %s (valid until %s)\n", what, u->name, code, roles_format_time(expires, when));
        roles_wipe(code, sizeof(code));
        return EXIT_OK;
}

static int user_add(struct cli *c, int argc, char **argv) {
        struct roles_user u = { .uid = ROLES_ID_INVALID, .gid = ROLES_ID_INVALID, .enabled = true };
        char hash[256] = "";
        struct roles_writer *s;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, add_spec, 1, &a) < 0)
                return EXIT_USAGE;
        bool with_password = args_opt(&a, O_PASSWORD_STDIN), activation = args_opt(&a, O_ACTIVATION);
        if (with_password && activation)
                return cli_fail(EXIT_USAGE, "give --password-stdin or --activation, not both");
        if (!roles_name_valid(a.pos[0]))
                return cli_fail(EXIT_USAGE, "invalid user name '%.40s': use [a-z_][a-z0-9_.-]*, at most %d bytes",
                                a.pos[0], ROLES_NAME_MAX);
        memcpy(u.name, a.pos[0], strlen(a.pos[0]) + 1);
        if (args_opt(&a, O_UID) && roles_parse_id(args_opt(&a, O_UID), &u.uid) < 0)
                return cli_fail(EXIT_USAGE, "invalid uid '%.32s'", args_opt(&a, O_UID));
        if ((args_opt(&a, O_UID) && (r = cli_check_local_id(c, u.uid, false)) != EXIT_OK) ||
            (r = cli_check_local_name(c, u.name, false)) != EXIT_OK ||
            (!args_opt(&a, O_GROUP) && !args_opt(&a, O_GID) && (r = cli_check_local_name(c, u.name, true)) != EXIT_OK))
                return r;
        /* The password is read before the writer lock is taken: never hold it across a prompt. */
        if (with_password && (r = password_read_and_hash(c, true, hash)) != EXIT_OK)
                return r;

        if ((r = cli_writer(c, 0, &s)) != EXIT_OK || (r = apply_fields(c, s, &a, &u)) != EXIT_OK)
                goto out;
        u.activated_at = activation ? 0 : roles_snapshot_now(roles_writer_snapshot(s));
        /* --force: the uid (and gid) asked for may be one a deleted account had. */
        roles_writer_allow_retired_ids(s, args_opt(&a, O_FORCE) != NULL);
        r = roles_user_add(s, &u);
        roles_writer_allow_retired_ids(s, false);
        if (r < 0 ||
            (args_opt(&a, O_EMAIL) && (r = roles_secret_set_email(s, u.uuid, args_opt(&a, O_EMAIL))) < 0) ||
            (with_password && (r = roles_secret_set_password(roles_writer_secrets(s), u.uuid, hash, false)) < 0)) {
                r = cli_fail_store(c, r);
                goto out;
        }
        cli_answer_number(c, "uid", u.uid);
        cli_answer_number(c, "gid", u.gid);
        r = activation ? cli_issue_code(c, s, &u, ROLES_CODE_ACTIVATION) : EXIT_OK;
out:
        roles_wipe(hash, sizeof(hash));
        return r;
}

static int user_mod(struct cli *c, int argc, char **argv) {
        struct roles_writer *s;
        struct roles_user u;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, mod_spec, 1, &a) < 0)
                return EXIT_USAGE;
        bool any = false;
        for (size_t i = 0; mod_spec[i].name; i++)
                any = any || args_opt(&a, i);
        if (!any)
                return cli_fail(EXIT_USAGE, "nothing to change; usage: %s", cli_usage(c));
        if ((r = writer_and_user(c, a.pos[0], &s, &u)) != EXIT_OK || (r = apply_fields(c, s, &a, &u)) != EXIT_OK)
                return r;
        if ((r = roles_user_update(s, &u)) < 0 ||
            (args_opt(&a, O_EMAIL) && (r = roles_secret_set_email(s, u.uuid, args_opt(&a, O_EMAIL))) < 0))
                return cli_fail_store(c, r);
        return EXIT_OK;
}

/* Like userdel: an account is not deleted under a process that runs as it, which would keep the
 * uid of an account that no longer exists (and whose id is retired in vain while it runs). */
static int check_no_process(const struct roles_user *u) {
        char name[64];
        pid_t pid;
        int r = roles_proc_find_uid("/proc", u->uid, &pid, name, sizeof(name));
        if (r < 0)
                return cli_fail(EXIT_ERROR, "cannot tell whether user '%s' has processes (/proc: %s); use --force to "
                                "delete anyway", u->name, strerror(-r));
        if (r > 0)
                return cli_fail(EXIT_CONFLICT, "user '%s' is in use by process %d (%s); stop it first or use --force",
                                u->name, (int) pid, name);
        return EXIT_OK;
}

static int user_del(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "force", false }, { NULL, false } };
        struct roles_writer *s;
        struct roles_user u;
        struct args a;
        int r;
        if (args_parse(c, argc, argv, spec, 1, &a) < 0)
                return EXIT_USAGE;
        if ((r = writer_and_user(c, a.pos[0], &s, &u)) != EXIT_OK || (!args_opt(&a, 0) && (r = check_no_process(&u)) != EXIT_OK))
                return r;
        r = roles_user_delete(s, &u);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int set_enabled(struct cli *c, int argc, char **argv, bool enabled) {
        struct roles_writer *s;
        struct roles_user u;
        struct args a;
        int r;
        if ((r = simple_args(c, argc, argv, &a)) != EXIT_OK ||
            (r = writer_and_user(c, a.pos[0], &s, &u)) != EXIT_OK)
                return r;
        u.enabled = enabled;
        r = roles_user_update(s, &u);
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int user_enable(struct cli *c, int argc, char **argv) {
        return set_enabled(c, argc, argv, true);
}

static int user_disable(struct cli *c, int argc, char **argv) {
        return set_enabled(c, argc, argv, false);
}

static int user_show(struct cli *c, int argc, char **argv) {
        struct roles_snapshot *s;
        struct roles_user u;
        struct args a;
        int r;
        /* Root sees the secrets summary and login state too; others see what NSS would serve. */
        unsigned flags = geteuid() == 0 ? ROLES_SNAPSHOT_SECRETS : 0;
        if ((r = simple_args(c, argc, argv, &a)) != EXIT_OK || (r = cli_snapshot(c, flags, &s)) != EXIT_OK)
                return r;
        /* root, or any account of the host's own: say whose it is, rather than "no such user". */
        const struct host_accounts *h;
        if ((r = roles_user_by_name(s, a.pos[0], &u)) == -ENOENT && roles_name_valid(a.pos[0]) &&
            cli_host(c, &h) == EXIT_OK && host_accounts_has_user(h, a.pos[0]))
                return cli_fail(EXIT_NOT_FOUND, "no such user '%s' in roles: it is a local account on this host (%s)",
                                a.pos[0], HOST_PASSWD_PATH);
        if (r < 0)
                return cli_fail_store(c, r);
        const struct out_section sections[] = {
                { "user", ROLES_LIST_USERS, u.name, true },
                { "groups", ROLES_LIST_USER_GROUPS, u.name, false },
                { "roles", ROLES_LIST_USER_ROLES, u.name, false },
                { "secrets", ROLES_LIST_USER_SECRETS, u.uuid, true },
                { "state", ROLES_LIST_USER_STATE, u.uuid, true },
        };
        return out_show(c, sections, flags ? 5 : 3);
}

static int user_list(struct cli *c, int argc, char **argv) {
        struct args a;
        if (args_parse(c, argc, argv, NULL, 0, &a) < 0)
                return EXIT_USAGE;
        return out_list(c, ROLES_LIST_USERS, NULL);
}

/* The tallies (state.db), as faillock(8) shows them: by default the live ones, which the next
 * failure adds to or which lock the user out now; --all adds the stale ones. */
static int user_locked(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "all", false }, { NULL, false } };
        struct args a;
        if (args_parse(c, argc, argv, spec, 0, &a) < 0)
                return EXIT_USAGE;
        const struct roles_list_filter filter = { .all = args_opt(&a, 0) != NULL };
        return out_list_filtered(c, ROLES_LIST_LOCKED, &filter);
}

static int user_passwd(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "stdin", false }, { NULL, false } };
        char hash[256] = "";
        struct roles_writer *s;
        struct roles_user u;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, spec, 1, &a) < 0)
                return EXIT_USAGE;
        if (!roles_name_valid(a.pos[0]))
                return cli_fail(EXIT_USAGE, "invalid user name '%.40s'", a.pos[0]);
        if ((r = password_read_and_hash(c, args_opt(&a, 0) != NULL, hash)) != EXIT_OK)
                return r;
        if ((r = writer_and_user(c, a.pos[0], &s, &u)) == EXIT_OK) {
                r = roles_secret_set_password(roles_writer_secrets(s), u.uuid, hash, false);
                /* As a password set through PAM: pending activation and reset codes are void (a
                 * leaked one must not outlive the new password). */
                if (r >= 0)
                        r = roles_secret_drop_codes(roles_writer_secrets(s), u.uuid);
                if (r >= 0)
                        r = roles_audit(s, "user.passwd", u.name, "%s", "");
                r = r < 0 ? cli_fail_store(c, r) : EXIT_OK;
        }
        roles_wipe(hash, sizeof(hash));
        return r;
}

static int user_unlock(struct cli *c, int argc, char **argv) {
        struct roles_writer *s;
        struct roles_user u;
        struct args a;
        int r;
        if ((r = simple_args(c, argc, argv, &a)) != EXIT_OK)
                return r;
        if (c->cfg.source[0]) {
                /* The fleet's lock first: a fleet that cannot be reached fails the command before
                 * anything changed. Then this host's files, where there are any (not on an
                 * administrator's workstation): at once, not at the agent's next round. */
                if (!roles_name_valid(a.pos[0]))
                        return cli_fail(EXIT_USAGE, "invalid user name '%.40s'", a.pos[0]);
                if ((r = cli_fleet_unlock(c, a.pos[0])) != EXIT_OK)
                        return r;
                if (access(c->cfg.public_db, F_OK) < 0 && errno == ENOENT)
                        return EXIT_OK;
        }
        if ((r = writer_and_user(c, a.pos[0], &s, &u)) != EXIT_OK)
                return r;
        r = roles_state_unlock(s, u.uuid);
        if (r >= 0)
                r = roles_audit(s, "user.unlock", u.name, "%s", "");
        return r < 0 ? cli_fail_store(c, r) : EXIT_OK;
}

static int user_reset(struct cli *c, int argc, char **argv) {
        struct roles_writer *s;
        struct roles_user u;
        struct args a;
        int r;
        if ((r = simple_args(c, argc, argv, &a)) != EXIT_OK ||
            (r = writer_and_user(c, a.pos[0], &s, &u)) != EXIT_OK)
                return r;
        return cli_issue_code(c, s, &u, ROLES_CODE_RESET);
}

/* How many recovery codes an enrolment gives (google-authenticator's count too). */
#define RECOVERY_CODES 10

/*
 * Give the user RECOVERY_CODES fresh recovery codes, in place of any it had (used or not), and
 * print them: shown this once, stored as hashes bound to the user (auth.h), each good once at
 * the code prompt in place of a TOTP code. The caller audits.
 */
static int issue_recovery_codes(struct cli *c, struct roles_writer *s, const struct roles_user *u) {
        char codes[RECOVERY_CODES][ROLES_CODE_TEXT_LEN + 1];
        uint8_t hashes[RECOVERY_CODES][ROLES_RECOVERY_HASH_LEN];
        int r = 0;

        for (size_t i = 0; i < RECOVERY_CODES && r >= 0; i++)
                if ((r = roles_code_new(codes[i])) >= 0)
                        r = roles_code_hash(codes[i], u->uuid, hashes[i]);
        if (r < 0)
                r = cli_fail(EXIT_ERROR, "cannot make recovery codes: %s", strerror(-r));
        else if ((r = roles_secret_set_recovery_codes(s, u->uuid, hashes, RECOVERY_CODES)) < 0)
                r = cli_fail_store(c, r);
        else if (c->json) {
                cli_answer_raw(c, "recovery_codes");
                for (size_t i = 0; i < RECOVERY_CODES; i++) {
                        fputs(i ? "," : "[", c->out);
                        out_json_string(c->out, codes[i]);
                }
                fputs("]", c->out);
        } else {
                fprintf(c->out, "Recovery codes for %s, each good once in place of a verification code "
                        "(keep them apart from the device):\n", u->name);
                for (size_t i = 0; i < RECOVERY_CODES; i++)
                        fprintf(c->out, "  %s\n", codes[i]);
        }
        roles_wipe(codes, sizeof(codes));
        roles_wipe(hashes, sizeof(hashes));
        return r < 0 ? r : EXIT_OK;
}

/*
 * Does the user have a TOTP secret? 1, 0, 2 a damaged one (logins refuse it: the error says
 * why), or minus the exit code (printed) when it cannot be read. Only the secret is read: the
 * commands that mend it must work whatever else the row holds.
 */
static int totp_enrolled(struct cli *c, struct roles_writer *s, const struct roles_user *u) {
        int r = roles_secret_totp_enrolled(roles_writer_secrets(s), u->uuid);
        if (r == -EBADMSG)
                return 2;
        return r < 0 ? -cli_fail_store(c, r) : r;
}

/* A new secret, shown as a QR code over its otpauth URI (or as JSON), with recovery codes. */
static int totp_enroll(struct cli *c, struct roles_writer *s, const struct roles_user *u, bool replace) {
        char issuer[ROLES_TOTP_ISSUER_MAX + 1], why[256];
        char secret[ROLES_TOTP_SECRET_B32MAX], *uri = NULL;
        int r;

        /* A phone holds the secret it replaces: losing that by a repeated command is no small thing. */
        if ((r = totp_enrolled(c, s, u)) < 0)
                return -r;
        if (r > 0 && !replace)
                return cli_fail(EXIT_CONFLICT, "user '%s' has %s: give --replace for a new secret (the old one "
                                "stops working)", u->name, r == 2 ? "a damaged TOTP secret" : "TOTP enrolled already");
        if ((r = roles_config_totp_issuer(&c->cfg, issuer, why, sizeof(why))) < 0)
                return cli_fail(EXIT_ERROR, "%s", why);
        if ((r = roles_totp_new_secret(secret)) < 0 || (r = roles_totp_uri(issuer, u->name, secret, &uri)) < 0) {
                roles_wipe(secret, sizeof(secret));
                return cli_fail(EXIT_ERROR, "cannot make a TOTP secret: %s", strerror(-r));
        }
        r = roles_secret_set_totp(s, u->uuid, secret);
        if (r >= 0)
                r = roles_audit(s, "user.totp.enroll", u->name, "issuer=%s%s", issuer, replace ? " replace" : "");
        if (r < 0)
                r = cli_fail_store(c, r);
        else if (c->json) {
                cli_answer_text(c, "totp", "enrolled");
                cli_answer_text(c, "issuer", issuer);
                cli_answer_text(c, "otpauth", uri);
        } else {
                fprintf(c->out, "Scan this with an authenticator app (issuer %s, account %s):\n\n", issuer, u->name);
                if ((r = qr_print(c->out, uri, qr_locale_utf8())) < 0)
                        r = cli_fail(EXIT_ERROR, "cannot draw the QR code: %s", strerror(-r));
                fprintf(c->out, "\n%s\n\n", uri);
        }
        if (r >= 0)
                r = issue_recovery_codes(c, s, u);
        roles_wipe(secret, sizeof(secret));
        roles_wipe(uri, strlen(uri));
        free(uri);
        return r;
}

static int user_totp(struct cli *c, int argc, char **argv) {
        static const struct opt_spec spec[] = { { "replace", false }, { NULL, false } };
        struct roles_writer *s;
        struct roles_user u;
        struct args a;
        int r;

        if (args_parse(c, argc, argv, spec, 2, &a) < 0)
                return EXIT_USAGE;
        bool enroll = strcmp(a.pos[0], "enroll") == 0, recovery = strcmp(a.pos[0], "recovery-codes") == 0;
        if (!enroll && !recovery && strcmp(a.pos[0], "disable") != 0)
                return cli_fail(EXIT_USAGE, "usage: %s", cli_usage(c));
        if (args_opt(&a, 0) && !enroll)
                return cli_fail(EXIT_USAGE, "--replace goes with enroll only");
        if ((r = writer_and_user(c, a.pos[1], &s, &u)) != EXIT_OK)
                return r;
        if (enroll)
                return totp_enroll(c, s, &u, args_opt(&a, 0) != NULL);
        if (recovery) {
                /* Codes that stand in for a TOTP code mean nothing without one. */
                if ((r = totp_enrolled(c, s, &u)) <= 0)
                        return r < 0 ? -r : cli_fail(EXIT_NOT_FOUND, "user '%s' has no TOTP enrolled", u.name);
                if (r == 2)
                        return cli_fail(EXIT_CONFLICT, "%s: run 'rolesctl user totp enroll %s --replace' (it gives "
                                        "recovery codes too)", cli_store_error(c, -EBADMSG), u.name);
                r = roles_audit(s, "user.totp.recovery", u.name, "codes=%d", RECOVERY_CODES);
                return r < 0 ? cli_fail_store(c, r) : issue_recovery_codes(c, s, &u);
        }
        r = roles_secret_set_totp(s, u.uuid, NULL);
        if (r >= 0)
                r = roles_secret_set_recovery_codes(s, u.uuid, NULL, 0);
        if (r >= 0)
                r = roles_audit(s, "user.totp.disable", u.name, "%s", "");
        if (r < 0)
                return cli_fail_store(c, r);
        cli_answer_text(c, "totp", "disabled");
        return EXIT_OK;
}

const struct command user_commands[] = {
        { "user", "add", user_add, true,
          "rolesctl user add NAME [--uid N] [--group NAME | --gid N] [--full-name TEXT] [--home DIR] [--shell "
          "PATH] [--email ADDR] [--expires DATE] [--password-stdin | --activation] [--force]",
          "Create a user, with a personal group unless --group or --gid names one" },
        { "user", "mod", user_mod, true,
          "rolesctl user mod NAME [--group NAME | --gid N] [--full-name TEXT] [--home DIR] [--shell PATH] "
          "[--email ADDR] [--expires DATE|never]",
          "Change a user's fields" },
        { "user", "del", user_del, true,
          "rolesctl user del NAME [--force]",
          "Delete a user (refused while a process runs as them, unless --force)" },
        { "user", "show", user_show, true,
          "rolesctl user show NAME",
          "Show a user's fields, groups and roles (and, for root, secrets and login state)" },
        { "user", "list", user_list, true,
          "rolesctl user list",
          "List the users" },
        { "user", "passwd", user_passwd, true,
          "rolesctl user passwd NAME [--stdin]",
          "Set a user's password, asked twice on the terminal or read from stdin" },
        { "user", "enable", user_enable, true,
          "rolesctl user enable NAME",
          "Let a disabled user log in and hold roles again" },
        { "user", "disable", user_disable, true,
          "rolesctl user disable NAME",
          "Refuse every login of a user and void their roles, keeping the account" },
        { "user", "unlock", user_unlock, true,
          "rolesctl user unlock NAME",
          "Clear a user's failed-login count and lock" },
        { "user", "locked", user_locked, true,
          "rolesctl user locked [--all]",
          "List the users with failed logins counting toward a lock, or locked out (faillock for roles)" },
        { "user", "reset", user_reset, true,
          "rolesctl user reset NAME",
          "Issue a one-time code with which the user sets a new password" },
        { "user", "totp", user_totp, true,
          "rolesctl user totp enroll|recovery-codes|disable NAME [--replace]",
          "Enrol a user in TOTP (a QR code, the otpauth URI and recovery codes), renew the recovery codes, "
          "or remove TOTP" },
};
const size_t n_user_commands = ROLES_N_ELEMENTS(user_commands);

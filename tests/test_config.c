/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "roles-build.h"
#include "testlib.h"
#include "util.h"

static void write_file(const char *path, const char *text, mode_t mode) {
        unlink(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

static int parse(const char *text, struct roles_config *cfg, char *err, size_t errlen) {
        return roles_config_parse(text, strlen(text), "test.conf", cfg, err, errlen);
}

/* A config with every field set to something no default has, to see what a failure touches. */
static void odd_config(struct roles_config *cfg) {
        roles_config_defaults(cfg);
        snprintf(cfg->public_db, sizeof(cfg->public_db), "/odd/roles.db");
        cfg->uid_min = 20001;
        cfg->uid_max = 20999;
        cfg->deny = 9;
        cfg->totp_window = 3;
}

/* ---- defaults -------------------------------------------------------------------------------- */

static void test_defaults(void **state) {
        struct roles_config cfg;
        (void) state;

        memset(&cfg, 0xa5, sizeof(cfg));
        roles_config_defaults(&cfg);
        /* The values DESIGN.md documents for /etc/roles.conf. */
        assert_string_equal(cfg.public_db, "/var/lib/roles/roles.db");
        assert_string_equal(cfg.secrets_db, "/var/lib/roles/secrets.db");
        assert_string_equal(cfg.state_db, "/var/lib/roles/state.db");
        assert_int_equal(cfg.uid_min, 1879048192);
        assert_int_equal(cfg.uid_max, 2147352575);
        assert_int_equal(cfg.gid_min, 1879048192);
        assert_int_equal(cfg.gid_max, 2147352575);
        assert_string_equal(cfg.home_base, "/home");
        assert_string_equal(cfg.default_shell, "/bin/bash");
        assert_int_equal(cfg.argon2_t_cost, 3);
        assert_int_equal(cfg.argon2_m_cost_kib, 65536);
        assert_int_equal(cfg.argon2_parallelism, 4);
        assert_int_equal(cfg.deny, 5);
        assert_int_equal(cfg.fail_interval, 900);
        assert_int_equal(cfg.unlock_time, 600);
        assert_int_equal(cfg.activation_ttl, 259200);
        assert_int_equal(cfg.reset_ttl, 86400);
        assert_int_equal(cfg.totp_window, 1);
        assert_int_equal(cfg.password_min_length, 8);
        assert_int_equal(cfg.login_audit_keep, 100000);
        assert_int_equal(cfg.login_memory_max_kib, 262144);
        assert_int_equal(cfg.login_slot_wait_ms, 20000);
}

static void test_defaults_text(void **state) {
        /* The example block from DESIGN.md, comments and all, with the key roles adds to it (as
         * docs/reference.md shows them), parses to the defaults. */
        static const char design[] =
                "public_db          = /var/lib/roles/roles.db\n"
                "secrets_db         = /var/lib/roles/secrets.db\n"
                "state_db           = /var/lib/roles/state.db\n"
                "uid_min            = 1879048192   # 0x70000000: above systemd's container range\n"
                "uid_max            = 2147352575   # 0x7ffdffff: below its foreign range and 2^31\n"
                "gid_min            = 1879048192\n"
                "gid_max            = 2147352575\n"
                "home_base          = /home        # home = home_base/NAME unless given\n"
                "default_shell      = /bin/bash\n"
                "argon2_t_cost      = 3            # RFC 9106 second option\n"
                "argon2_m_cost_kib  = 65536\n"
                "argon2_parallelism = 4\n"
                "deny               = 5            # lockout: failures ...\n"
                "fail_interval      = 900          # ... within this many seconds ...\n"
                "unlock_time        = 600          # ... lock for this long (0 = until an admin unlocks)\n"
                "activation_ttl     = 259200       # seconds an activation code lives\n"
                "reset_ttl          = 86400\n"
                "totp_window        = 1            # steps of 30 s accepted either side\n"
                "password_min_length = 8\n"
                "login_audit_keep   = 100000       # newest login audit rows kept (0 = all)\n"
                "login_memory_max_kib = 262144     # argon2 memory of all logins at once, host-wide\n"
                "login_slot_wait_ms = 20000        # how long a login waits for its share of it\n";
        struct roles_config cfg, defaults;
        char err[256] = "";
        (void) state;

        roles_config_defaults(&defaults);
        odd_config(&cfg);
        assert_int_equal(parse(design, &cfg, err, sizeof(err)), 0);
        assert_memory_equal(&cfg, &defaults, sizeof(cfg));
}

/* The sample installed as /etc/roles.conf (etc/roles.conf): as shipped it sets nothing, and with
 * each "#key = value" line uncommented it sets every key to its code default, so that its words
 * and the code agree. Parsed over zeros, which no default is, a key it leaves out shows. */
static void test_sample_file(void **state) {
        size_t len;
        char *text = test_read_file(ROLES_SAMPLE_CONF, &len);
        struct roles_config cfg, expect;
        char err[256] = "";
        (void) state;

        if (!text)
                fail_msg("%s: %s", ROLES_SAMPLE_CONF, strerror(errno));

        odd_config(&cfg);
        expect = cfg;
        if (roles_config_parse(text, len, ROLES_SAMPLE_CONF, &cfg, err, sizeof(err)) < 0)
                fail_msg("as shipped: %s", err);
        assert_memory_equal(&cfg, &expect, sizeof(cfg));

        /* Uncomment the settings: "#" then a key; prose comments are "# ...". */
        char *settings = malloc(len + 1);
        assert_non_null(settings);
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
                if (!(text[i] == '#' && (i == 0 || text[i - 1] == '\n') && i + 1 < len &&
                      text[i + 1] >= 'a' && text[i + 1] <= 'z'))
                        settings[n++] = text[i];
        memset(&cfg, 0, sizeof(cfg));
        roles_config_defaults(&expect);
        if (roles_config_parse(settings, n, ROLES_SAMPLE_CONF, &cfg, err, sizeof(err)) < 0)
                fail_msg("uncommented: %s", err);
        assert_memory_equal(&cfg, &expect, sizeof(cfg));
        free(settings);
        free(text);
}

/* ---- overriding ------------------------------------------------------------------------------- */

/* The fleet's keys: a source as libpq spells it (URIs have ':' and '/'), but printable ASCII
 * only; host_secrets one of two words; the poll within its range. */
static void test_fleet_keys(void **state) {
        struct roles_config cfg;
        char err[256] = "";
        (void) state;

        roles_config_defaults(&cfg);
        assert_string_equal(cfg.source, "");
        assert_false(cfg.host_secrets_none);
        assert_int_equal(cfg.fleet_poll, 30);
        assert_int_equal(parse("source = postgresql://db.example.org:5432/roles?sslcert=/etc/roles/c.pem\n"
                               "fleet_ca = /etc/roles/ca.pem\nfleet_cache = /var/cache/x\nfleet_poll = 1\n"
                               "host_secrets = none\n", &cfg, err, sizeof(err)), 0);
        assert_string_equal(cfg.source, "postgresql://db.example.org:5432/roles?sslcert=/etc/roles/c.pem");
        assert_string_equal(cfg.fleet_ca, "/etc/roles/ca.pem");
        assert_string_equal(cfg.fleet_cache, "/var/cache/x");
        assert_int_equal(cfg.fleet_poll, 1);
        assert_true(cfg.host_secrets_none);
        assert_true(roles_config_source_valid("host=/run/postgresql dbname=roles"));
        assert_false(roles_config_source_valid(""));
        assert_false(roles_config_source_valid("host=db\x01"));
        assert_false(roles_config_source_valid("dbname=r\xc3\xa9les"));
        /* A host's role as a backup records it: one word of printable ASCII, a role name's length. */
        assert_true(roles_host_role_valid("host1", 5));
        assert_true(roles_host_role_valid("web-01.example", 14));
        assert_false(roles_host_role_valid("", 0));
        assert_false(roles_host_role_valid("host 1", 6));
        assert_false(roles_host_role_valid("host\n", 5));
        assert_false(roles_host_role_valid("h\xc3\xb4te", 6));
        char role[ROLES_HOST_ROLE_MAX + 2];
        memset(role, 'a', sizeof(role));
        assert_true(roles_host_role_valid(role, ROLES_HOST_ROLE_MAX));
        assert_false(roles_host_role_valid(role, ROLES_HOST_ROLE_MAX + 1));

        roles_config_defaults(&cfg);
        assert_int_equal(parse("host_secrets = some\n", &cfg, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "neither 'all' nor 'none'"));
        assert_int_equal(parse("fleet_poll = 0\n", &cfg, err, sizeof(err)), -EINVAL);
        assert_int_equal(parse("source = host=db\tdbname=x\n", &cfg, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "printable ASCII"));
        assert_false(cfg.host_secrets_none);
}

static void test_override_every_key(void **state) {
        static const char text[] =
                "public_db = /srv/r/roles.db\n"
                "secrets_db = /srv/s/secrets.db\n"
                "state_db = /srv/t/state.db\n"
                "uid_min = 70000\n"
                "uid_max = 79999\n"
                "gid_min = 80000\n"
                "gid_max = 89999\n"
                "home_base = /export/home\n"
                "default_shell = /bin/zsh\n"
                "argon2_t_cost = 2\n"
                "argon2_m_cost_kib = 19456\n"
                "argon2_parallelism = 1\n"
                "deny = 0\n"
                "fail_interval = 60\n"
                "unlock_time = 0\n"
                "activation_ttl = 3600\n"
                "reset_ttl = 600\n"
                "totp_window = 0\n"
                "totp_issuer = Example Corp (ssh)\n"
                "password_min_length = 12\n"
                "login_audit_keep = 0\n";
        struct roles_config cfg;
        char err[256] = "";
        (void) state;

        roles_config_defaults(&cfg);
        assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
        assert_string_equal(cfg.public_db, "/srv/r/roles.db");
        assert_string_equal(cfg.secrets_db, "/srv/s/secrets.db");
        assert_string_equal(cfg.state_db, "/srv/t/state.db");
        assert_int_equal(cfg.uid_min, 70000);
        assert_int_equal(cfg.uid_max, 79999);
        assert_int_equal(cfg.gid_min, 80000);
        assert_int_equal(cfg.gid_max, 89999);
        assert_string_equal(cfg.home_base, "/export/home");
        assert_string_equal(cfg.default_shell, "/bin/zsh");
        assert_int_equal(cfg.argon2_t_cost, 2);
        assert_int_equal(cfg.argon2_m_cost_kib, 19456);
        assert_int_equal(cfg.argon2_parallelism, 1);
        assert_int_equal(cfg.deny, 0);
        assert_int_equal(cfg.fail_interval, 60);
        assert_int_equal(cfg.unlock_time, 0);
        assert_int_equal(cfg.activation_ttl, 3600);
        assert_int_equal(cfg.reset_ttl, 600);
        assert_int_equal(cfg.totp_window, 0);
        assert_string_equal(cfg.totp_issuer, "Example Corp (ssh)");
        assert_int_equal(cfg.password_min_length, 12);
        assert_int_equal(cfg.login_audit_keep, 0);
}

/* The TOTP issuer: the key when set, else the host name as gethostname gives it. */
static void test_totp_issuer(void **state) {
        struct roles_config cfg;
        char issuer[ROLES_TOTP_ISSUER_MAX + 1], host[256] = "", why[256] = "";
        (void) state;

        roles_config_defaults(&cfg);
        assert_string_equal(cfg.totp_issuer, "");
        assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
        assert_int_equal(roles_config_totp_issuer(&cfg, issuer, why, sizeof(why)), 0);
        assert_string_equal(issuer, host);
        assert_int_equal(parse("totp_issuer = ACME\n", &cfg, why, sizeof(why)), 0);
        assert_int_equal(roles_config_totp_issuer(&cfg, issuer, why, sizeof(why)), 0);
        assert_string_equal(issuer, "ACME");
}

static void test_partial_override_keeps_the_rest(void **state) {
        struct roles_config cfg, expect;
        char err[256] = "";
        (void) state;

        odd_config(&cfg);
        expect = cfg;
        expect.deny = 3;
        assert_int_equal(parse("deny = 3\n", &cfg, err, sizeof(err)), 0);
        assert_memory_equal(&cfg, &expect, sizeof(cfg));

        /* A key set twice is refused, naming both lines, and changes nothing. */
        expect = cfg;
        assert_int_equal(parse("deny = 4\n# note\ndeny = 7\n", &cfg, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, ":3: deny is already set on line 1"));
        assert_memory_equal(&cfg, &expect, sizeof(cfg));

        /* Empty text changes nothing. */
        expect = cfg;
        assert_int_equal(roles_config_parse("", 0, "empty", &cfg, err, sizeof(err)), 0);
        assert_memory_equal(&cfg, &expect, sizeof(cfg));
}

static void test_comments_and_blank_lines(void **state) {
        static const char text[] =
                "# roles configuration\n"
                "\n"
                "   \n"
                "\t\n"
                "   # indented comment\n"
                "deny=2\n"
                "  fail_interval   =   120   \n"
                "\tunlock_time\t=\t30\t# tabs\n"
                "totp_window = 2# comment right after the value\n"
                "home_base = /srv/home#comment\n"
                "reset_ttl = 120\r\n"                  /* CRLF */
                "#deny = 99\n"
                "password_min_length = 10";              /* no final newline */
        struct roles_config cfg;
        char err[256] = "";
        (void) state;

        roles_config_defaults(&cfg);
        int r = parse(text, &cfg, err, sizeof(err));
        if (r < 0)
                fail_msg("parse: %s", err);
        assert_int_equal(cfg.deny, 2);
        assert_int_equal(cfg.fail_interval, 120);
        assert_int_equal(cfg.unlock_time, 30);
        assert_int_equal(cfg.totp_window, 2);
        assert_string_equal(cfg.home_base, "/srv/home");
        assert_int_equal(cfg.reset_ttl, 120);
        assert_int_equal(cfg.password_min_length, 10);

        /* Only comments and blank lines: nothing changes. */
        struct roles_config before = cfg;
        assert_int_equal(parse("# a\n\n#b\n   \n", &cfg, err, sizeof(err)), 0);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_range_order_across_lines(void **state) {
        struct roles_config cfg;
        char err[256] = "";
        (void) state;

        /* Raising both bounds above the defaults is fine in either order: the check is on the
         * result, not on each line. */
        roles_config_defaults(&cfg);
        assert_int_equal(parse("uid_min = 70000\nuid_max = 80000\n", &cfg, err, sizeof(err)), 0);
        assert_int_equal(cfg.uid_min, 70000);
        assert_int_equal(cfg.uid_max, 80000);
        roles_config_defaults(&cfg);
        assert_int_equal(parse("gid_max = 80000\ngid_min = 70000\n", &cfg, err, sizeof(err)), 0);
        assert_int_equal(cfg.gid_min, 70000);
        assert_int_equal(cfg.gid_max, 80000);
        /* Equal bounds: a range of one id. */
        assert_int_equal(parse("uid_min = 70000\nuid_max = 70000\n", &cfg, err, sizeof(err)), 0);
}

static void test_boundaries_accepted(void **state) {
        static const char text[] =
                "uid_min = 1\n"
                "uid_max = 4294967294\n"
                "argon2_t_cost = 64\n"
                "argon2_m_cost_kib = 512\n"              /* 8 KiB for each of 64 lanes */
                "argon2_parallelism = 64\n"
                "deny = 1000000\n"
                "activation_ttl = 60\n"
                "totp_window = 10\n"
                "password_min_length = 1024\n"
                "login_audit_keep = 1000000000\n";
        struct roles_config cfg;
        char err[256] = "";
        (void) state;

        roles_config_defaults(&cfg);
        int r = parse(text, &cfg, err, sizeof(err));
        if (r < 0)
                fail_msg("parse: %s", err);
        assert_int_equal(cfg.uid_min, 1);
        assert_int_equal(cfg.uid_max, 4294967294u);
        assert_int_equal(cfg.argon2_t_cost, 64);
        assert_int_equal(cfg.argon2_m_cost_kib, 512);
        assert_int_equal(cfg.deny, 1000000);
        assert_int_equal(cfg.activation_ttl, 60);
        assert_int_equal(cfg.totp_window, 10);
        assert_int_equal(cfg.password_min_length, 1024);
        assert_int_equal(cfg.login_audit_keep, 1000000000);
}

/* ---- errors ----------------------------------------------------------------------------------- */

struct bad_case {
        const char *text;
        unsigned line;
        const char *mention;    /* a word the message must contain */
};

static void check_bad(const struct bad_case *c) {
        struct roles_config cfg, before;
        char err[256], prefix[64];

        odd_config(&cfg);
        before = cfg;
        memset(err, 0, sizeof(err));
        int r = parse(c->text, &cfg, err, sizeof(err));
        if (r != -EINVAL)
                fail_msg("\"%s\": expected -EINVAL, got %d (%s)", c->text, r, err);
        snprintf(prefix, sizeof(prefix), "test.conf:%u:", c->line);
        if (strncmp(err, prefix, strlen(prefix)) != 0)
                fail_msg("\"%s\": message '%s' does not start with '%s'", c->text, err, prefix);
        if (c->mention && !strstr(err, c->mention))
                fail_msg("\"%s\": message '%s' does not mention '%s'", c->text, err, c->mention);
        /* One line, no newline. */
        assert_null(strchr(err, '\n'));
        /* On error the passed-in config is untouched, even by lines before the bad one. */
        assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_errors_name_the_line(void **state) {
        static const struct bad_case cases[] = {
                { "frobnicate = 1\n", 1, "frobnicate" },
                { "deny = 3\n# c\n\nfoo = bar\n", 4, "foo" },
                { "Deny = 3\n", 1, "Deny" },
                { "uid min = 5\n", 1, NULL },
                { "= 5\n", 1, NULL },
                { "deny = 3\ndeny 4\n", 2, NULL },                      /* missing '=' */
                { "deny\n", 1, NULL },
                { "deny = three\n", 1, "deny" },                        /* bad number */
                { "deny = 3x\n", 1, "deny" },
                { "deny = 0x10\n", 1, "deny" },
                { "deny = -1\n", 1, "deny" },
                { "deny = +3\n", 1, "deny" },
                { "deny = 3 4\n", 1, "deny" },
                { "deny =\n", 1, "deny" },
                { "deny = 1.5\n", 1, "deny" },
                { "uid_min = 99999999999999999999\n", 1, "uid_min" },
                { "deny = 1000001\n", 1, "deny" },                      /* out of range */
                { "totp_window = 11\n", 1, "totp_window" },
                { "totp_issuer = Example:Corp\n", 1, "totp_issuer" },  /* the Key Uri label's separator */
                { "totp_issuer = \x1b[31mbank\n", 1, "totp_issuer" },
                { "totp_issuer = 01234567890123456789012345678901234567890123456789012345678901234\n", 1,
                  "totp_issuer" },                                      /* 65 bytes */
                { "argon2_t_cost = 0\n", 1, "argon2_t_cost" },
                { "argon2_t_cost = 65\n", 1, "argon2_t_cost" },
                { "argon2_m_cost_kib = 7\n", 1, "argon2_m_cost_kib" },
                { "argon2_parallelism = 0\n", 1, "argon2_parallelism" },
                { "activation_ttl = 59\n", 1, "activation_ttl" },
                { "reset_ttl = 0\n", 1, "reset_ttl" },
                { "fail_interval = 0\n", 1, "fail_interval" },
                { "password_min_length = 0\n", 1, "password_min_length" },
                { "login_audit_keep = 1000000001\n", 1, "login_audit_keep" },
                { "argon2_parallelism = 16\nargon2_m_cost_kib = 64\n", 2, "argon2_m_cost_kib (64) is less than 8 per lane" },
                { "login_audit_keep = -1\n", 1, "login_audit_keep" },
                { "login_memory_max_kib = 7\n", 1, "login_memory_max_kib" },     /* less than any argon2 */
                { "login_slot_wait_ms = 600001\n", 1, "login_slot_wait_ms" },
                { "uid_min = 0\n", 1, "uid_min" },                      /* root can never be in range */
                { "gid_min = 0\n", 1, "gid_min" },
                { "uid_max = 4294967295\n", 1, "uid_max" },             /* (uid_t) -1 */
                { "home_base = home\n", 1, "home_base" },               /* relative path */
                { "public_db = roles.db\n", 1, "public_db" },
                { "secrets_db = ./secrets.db\n", 1, "secrets_db" },
                { "state_db =\n", 1, "state_db" },
                { "default_shell = /bin/a:b\n", 1, "default_shell" },
                { "default_shell = bash\n", 1, "default_shell" },
                { "deny = 1\n\n\nuid_max = 5000\n", 4, "uid_min" },     /* uid_min > uid_max */
                { "uid_min = 2147352576\n# x\n", 1, "uid_max" },   /* above the default uid_max */
                { "uid_max = 20000\nuid_min = 30000\n", 2, "uid_min" },
                { "gid_max = 9999\n", 1, "gid_min" },
                { "deny = 2\ngid_min = 2147352576\n", 2, "gid_max" },
        };
        (void) state;

        for (size_t i = 0; i < ROLES_N_ELEMENTS(cases); i++)
                check_bad(&cases[i]);
}

static void test_error_long_line_and_nul(void **state) {
        struct roles_config cfg, before;
        char err[256] = "";
        char *text = malloc(4096);
        (void) state;

        assert_non_null(text);
        odd_config(&cfg);
        before = cfg;
        /* A line of 2000 bytes (a comment, harmless if it were short) on line 2. */
        strcpy(text, "deny = 2\n# ");
        memset(text + strlen(text), 'x', 2000);
        strcpy(text + 11 + 2000, "\n");
        assert_int_equal(parse(text, &cfg, err, sizeof(err)), -EINVAL);
        assert_true(strncmp(err, "test.conf:2:", 12) == 0);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
        free(text);

        /* A NUL byte inside the text (parse takes a length, so it can see one). */
        static const char with_nul[] = "deny = 2\ndeny = 3\0 # \ntotp_window = 2\n";
        assert_int_equal(roles_config_parse(with_nul, sizeof(with_nul) - 1, "test.conf", &cfg, err, sizeof(err)),
                         -EINVAL);
        assert_true(strncmp(err, "test.conf:2:", 12) == 0);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
}

/* A path holds ROLES_TEXT_MAX bytes: one that long is kept whole (the fields are sized to it,
 * not to PATH_MAX), one byte more is refused and changes nothing. */
static void test_path_length(void **state) {
        struct roles_config cfg, before;
        char text[ROLES_TEXT_MAX + 64], path[ROLES_TEXT_MAX + 2], err[256] = "";
        (void) state;

        roles_config_defaults(&cfg);
        memset(path, 'p', sizeof(path));
        path[0] = '/';
        path[ROLES_TEXT_MAX] = '\0';
        snprintf(text, sizeof(text), "public_db = %s\n", path);
        assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
        assert_string_equal(cfg.public_db, path);

        before = cfg;
        path[ROLES_TEXT_MAX] = 'p';
        path[ROLES_TEXT_MAX + 1] = '\0';
        snprintf(text, sizeof(text), "public_db = %s\n", path);
        assert_int_equal(parse(text, &cfg, err, sizeof(err)), -EINVAL);
        assert_true(strncmp(err, "test.conf:1: public_db", 22) == 0);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_error_small_buffer(void **state) {
        struct roles_config cfg, before;
        char err[8];
        (void) state;

        roles_config_defaults(&cfg);
        before = cfg;
        memset(err, 'Z', sizeof(err));
        assert_int_equal(parse("nonsense = 1\n", &cfg, err, sizeof(err)), -EINVAL);
        assert_int_equal(err[sizeof(err) - 1], '\0');
        assert_int_equal(strlen(err), sizeof(err) - 1);
        /* No error buffer at all is fine too. */
        assert_int_equal(parse("nonsense = 1\n", &cfg, NULL, 0), -EINVAL);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
}

/* ---- files ------------------------------------------------------------------------------------- */

static void test_load_file(void **state) {
        struct test_env *e = *state;
        struct roles_config cfg;
        char path[PATH_MAX], err[512] = "";

        snprintf(path, sizeof(path), "%s/roles.conf", e->dir);
        write_file(path, "# test\nuid_min = 30000\nuid_max = 30999\nhome_base = /srv/home\n", 0644);
        roles_config_defaults(&cfg);
        int r = roles_config_load(path, &cfg, err, sizeof(err));
        if (r < 0)
                fail_msg("load: %s", err);
        assert_int_equal(cfg.uid_min, 30000);
        assert_int_equal(cfg.uid_max, 30999);
        assert_string_equal(cfg.home_base, "/srv/home");
        assert_int_equal(cfg.gid_min, 1879048192);

        /* An owner-only and a group-readable file are fine. */
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(roles_config_load(path, &cfg, err, sizeof(err)), 0);
        assert_int_equal(chmod(path, 0640), 0);
        assert_int_equal(roles_config_load(path, &cfg, err, sizeof(err)), 0);

        /* An empty file is the defaults. */
        write_file(path, "", 0644);
        roles_config_defaults(&cfg);
        assert_int_equal(roles_config_load(path, &cfg, err, sizeof(err)), 0);
}

static void test_load_error_names_file_and_line(void **state) {
        struct test_env *e = *state;
        struct roles_config cfg, before;
        char path[PATH_MAX], err[PATH_MAX + 128] = "", prefix[PATH_MAX + 16];

        snprintf(path, sizeof(path), "%s/roles.conf", e->dir);
        write_file(path, "deny = 2\n\nbogus_key = 1\n", 0644);
        odd_config(&cfg);
        before = cfg;
        assert_int_equal(roles_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
        snprintf(prefix, sizeof(prefix), "%s:3:", path);
        assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
        assert_non_null(strstr(err, "bogus_key"));
        assert_memory_equal(&cfg, &before, sizeof(cfg));

        write_file(path, "uid_min = 10\nuid_max = 5\n", 0644);
        assert_int_equal(roles_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
        snprintf(prefix, sizeof(prefix), "%s:2:", path);
        if (strncmp(err, prefix, strlen(prefix)) != 0)
                fail_msg("'%s' does not start with '%s'", err, prefix);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_load_missing(void **state) {
        struct test_env *e = *state;
        struct roles_config cfg, before;
        char path[PATH_MAX], err[PATH_MAX + 128] = "";

        snprintf(path, sizeof(path), "%s/does-not-exist.conf", e->dir);
        odd_config(&cfg);
        before = cfg;
        assert_int_equal(roles_config_load(path, &cfg, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, path));
        assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_load_refuses_unsafe_files(void **state) {
        struct test_env *e = *state;
        struct roles_config cfg, before;
        char path[PATH_MAX], err[PATH_MAX + 128] = "";

        snprintf(path, sizeof(path), "%s/roles.conf", e->dir);
        odd_config(&cfg);
        before = cfg;

        /* World-writable: anyone could point the databases elsewhere. */
        write_file(path, "deny = 2\n", 0666);
        assert_int_equal(roles_config_load(path, &cfg, err, sizeof(err)), -EPERM);
        assert_non_null(strstr(err, "world-writable"));
        assert_memory_equal(&cfg, &before, sizeof(cfg));
        write_file(path, "deny = 2\n", 0602);
        assert_int_equal(roles_config_load(path, &cfg, err, sizeof(err)), -EPERM);
        assert_memory_equal(&cfg, &before, sizeof(cfg));

        /* Not a regular file. */
        assert_int_equal(roles_config_load(e->dir, &cfg, err, sizeof(err)), -EINVAL);
        assert_true(roles_config_load("/dev/null", &cfg, err, sizeof(err)) < 0);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
        /* A FIFO nobody writes to: refused at once, not waited on (open(2) of a FIFO waits for a
         * writer; every NSS lookup reads the configuration). The alarm ends a test that hangs. */
        char fifo[PATH_MAX];
        snprintf(fifo, sizeof(fifo), "%s/fifo.conf", e->dir);
        assert_int_equal(mkfifo(fifo, 0644), 0);
        alarm(10);
        assert_true(roles_config_load(fifo, &cfg, err, sizeof(err)) < 0);
        alarm(0);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
        unlink(fifo);

        /* Larger than 64 KiB. */
        char *big = malloc(70 * 1024 + 1);
        assert_non_null(big);
        memset(big, '#', 70 * 1024);
        big[70 * 1024] = '\0';
        write_file(path, big, 0644);
        free(big);
        int r = roles_config_load(path, &cfg, err, sizeof(err));
        assert_true(r == -EFBIG || r == -EINVAL);
        assert_non_null(strstr(err, path));
        assert_memory_equal(&cfg, &before, sizeof(cfg));
}

/* ---- which file -------------------------------------------------------------------------------- */

static void test_config_path(void **state) {
        (void) state;

        assert_int_equal(unsetenv("ROLES_CONF"), 0);
        assert_string_equal(roles_config_path(NULL), ROLES_DEFAULT_CONF);
        assert_string_equal(roles_config_path("/x/explicit.conf"), "/x/explicit.conf");

        assert_int_equal(setenv("ROLES_CONF", "/x/from-env.conf", 1), 0);
        assert_string_equal(roles_config_path(NULL), "/x/from-env.conf");
        /* An explicit path (--conf, conf=) wins over the environment. */
        assert_string_equal(roles_config_path("/x/explicit.conf"), "/x/explicit.conf");

        /* An empty variable is no variable. */
        assert_int_equal(setenv("ROLES_CONF", "", 1), 0);
        assert_string_equal(roles_config_path(NULL), ROLES_DEFAULT_CONF);
        assert_int_equal(unsetenv("ROLES_CONF"), 0);
}

/*
 * In a setuid program $ROLES_CONF must be ignored (secure_getenv). This binary, copied with the
 * setuid bit and started by an unprivileged user, reports what roles_config_path(NULL) says.
 */
#define PRINT_PATH_ARG "--print-config-path"

static char self_path[PATH_MAX];      /* this test binary (argv[0]: /proc/self/exe is valgrind's under valgrind) */

static void test_config_path_setuid_ignores_env(void **state) {
        struct test_env *e = *state;
        char copy[PATH_MAX], out[PATH_MAX] = "";
        int pipefd[2];

        if (geteuid() != 0)
                skip();
        snprintf(copy, sizeof(copy), "%s/setuid-helper", e->dir);
        size_t len;
        char *self = test_read_file(self_path, &len);
        assert_non_null(self);
        int fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, self, len), (ssize_t) len);
        free(self);
        assert_int_equal(fchmod(fd, 04755), 0);
        close(fd);

        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *argv[] = { copy, (char *) PRINT_PATH_ARG, NULL };
                char *envp[] = { (char *) "ROLES_CONF=/tmp/attacker.conf", NULL };
                dup2(pipefd[1], STDOUT_FILENO);
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(126);
                execve(copy, argv, envp);
                _exit(127);
        }
        close(pipefd[1]);
        ssize_t n = 0, k;
        while ((k = read(pipefd[0], out + n, sizeof(out) - 1 - (size_t) n)) > 0)
                n += k;
        close(pipefd[0]);
        out[n > 0 ? n : 0] = '\0';
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 125 || WEXITSTATUS(status) == 127) {
                /* nosuid file system, or a temporary directory nobody cannot reach */
                print_message("setuid helper could not run (%d): skipped\n", WEXITSTATUS(status));
                skip();
        }
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_string_equal(out, ROLES_DEFAULT_CONF);
}

static int print_config_path(void) {
        /* Make sure the bit took effect, else the answer would prove nothing. */
        if (geteuid() == getuid())
                return 125;
        fputs(roles_config_path(NULL), stdout);
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], PRINT_PATH_ARG) == 0)
                return print_config_path();
        if (!realpath(argv[0], self_path))
                snprintf(self_path, sizeof(self_path), "/proc/self/exe");

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_defaults_text),
                cmocka_unit_test(test_sample_file),
                cmocka_unit_test(test_override_every_key),
                cmocka_unit_test(test_fleet_keys),
                cmocka_unit_test(test_totp_issuer),
                cmocka_unit_test(test_partial_override_keeps_the_rest),
                cmocka_unit_test(test_comments_and_blank_lines),
                cmocka_unit_test(test_range_order_across_lines),
                cmocka_unit_test(test_boundaries_accepted),
                cmocka_unit_test(test_errors_name_the_line),
                cmocka_unit_test(test_error_long_line_and_nul),
                cmocka_unit_test(test_path_length),
                cmocka_unit_test(test_error_small_buffer),
                cmocka_unit_test_setup_teardown(test_load_file, test_setup_empty, test_teardown),
                cmocka_unit_test_setup_teardown(test_load_error_names_file_and_line, test_setup_empty, test_teardown),
                cmocka_unit_test_setup_teardown(test_load_missing, test_setup_empty, test_teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_unsafe_files, test_setup_empty, test_teardown),
                cmocka_unit_test(test_config_path),
                cmocka_unit_test_setup_teardown(test_config_path_setuid_ignores_env, test_setup_empty, test_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

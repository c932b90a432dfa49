/* SPDX-License-Identifier: MIT */
/*
 * doctor's look at sudo: does sudoers trust a published metarole group while sudo keeps the
 * groups a session started with?
 *
 * sudo matches %group against the process's group list, which by default (group_source static)
 * was fixed at login. A just-in-time grant (`role assign ... --until`) ends the membership in
 * NSS the second it ends, but a session opened before that still carries the gid, and sudo in
 * it still says yes. With `Set group_source dynamic` in /etc/sudo.conf, sudo asks NSS at every
 * call, and "%admin" means "holds admin now". (permission= on sudo's PAM account line is judged
 * at every sudo too, whatever sudo.conf says.) doctor names each published metarole group that
 * sudoers trusts while sudo.conf does not set it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "doctor_sudo.h"

#define SUDOERS "/etc/sudoers"
#define SUDOERS_D "/etc/sudoers.d"
#define SUDO_CONF "/etc/sudo.conf"

/* Does one of the file's lines say "Set group_source dynamic" (blanks as sudo.conf allows)? */
static bool group_source_dynamic(const char *path) {
        FILE *f = fopen(path, "re");
        char *line = NULL;
        size_t size = 0;
        bool dynamic = false;
        if (!f)
                return false;
        while (!dynamic && getline(&line, &size, f) >= 0) {
                char set[8], key[32], value[32], extra[2];
                dynamic = sscanf(line, "%7s %31s %31s %1s", set, key, value, extra) == 3 && strcmp(set, "Set") == 0 &&
                          strcmp(key, "group_source") == 0 && strcmp(value, "dynamic") == 0;
        }
        free(line);
        fclose(f);
        return dynamic;
}

/* Each "%name" (or "%:name") in a sudoers file, comments left out ("#include" is no comment). */
static void each_group_in(const char *path, void (*fn)(void *userdata, const char *group), void *userdata) {
        FILE *f = fopen(path, "re");
        char *line = NULL;
        size_t size = 0;
        if (!f)
                return;
        while (getline(&line, &size, f) >= 0) {
                for (char *p = line; *p; p++) {
                        if (*p == '#' && strncmp(p, "#include", 8) != 0)
                                break;
                        if (*p != '%')
                                continue;
                        char *name = p + 1 + (p[1] == ':');
                        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-");
                        if (n == 0 || n > ROLES_NAME_MAX)
                                continue;
                        char group[ROLES_NAME_MAX + 1];
                        memcpy(group, name, n);
                        group[n] = '\0';
                        fn(userdata, group);
                        p = name + n - 1;
                }
        }
        free(line);
        fclose(f);
}

/* sudo reads the files of an includedir whose names have no '.' and do not end in '~'. */
static void each_sudoers_group(void (*fn)(void *userdata, const char *group), void *userdata) {
        each_group_in(SUDOERS, fn, userdata);
        DIR *d = opendir(SUDOERS_D);
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                size_t n = strlen(de->d_name);
                if (strchr(de->d_name, '.') || n == 0 || de->d_name[n - 1] == '~')
                        continue;
                char path[sizeof(SUDOERS_D) + 256];
                snprintf(path, sizeof(path), "%s/%s", SUDOERS_D, de->d_name);
                each_group_in(path, fn, userdata);
        }
        closedir(d);
}

struct sudo_check {
        struct roles_snapshot *s;
        roles_report_fn report;
        void *userdata;
        unsigned findings;
        char seen[16][ROLES_NAME_MAX + 1];      /* each group named once */
        size_t n_seen;
};

static void check_group(void *userdata, const char *group) {
        struct sudo_check *k = userdata;
        struct roles_metarole m;
        for (size_t i = 0; i < k->n_seen; i++)
                if (strcmp(k->seen[i], group) == 0)
                        return;
        if (k->n_seen < ROLES_N_ELEMENTS(k->seen))
                snprintf(k->seen[k->n_seen++], sizeof(k->seen[0]), "%s", group);
        if (roles_metarole_by_code(k->s, group, &m) < 0 || m.gid == ROLES_ID_INVALID)
                return;
        char line[512];
        snprintf(line, sizeof(line), "sudoers trusts %%%s, a published metarole group, but %s does not set "
                 "'Set group_source dynamic': a sudo session keeps the groups it began with, so a just-in-time "
                 "grant outlives its --until there (set it, and put permission= on sudo's PAM account line)",
                 group, SUDO_CONF);
        k->report(k->userdata, line);
        k->findings++;
}

unsigned doctor_sudo_group_source(struct roles_snapshot *s, roles_report_fn report, void *userdata) {
        if (group_source_dynamic(SUDO_CONF))
                return 0;
        struct sudo_check k = { .s = s, .report = report, .userdata = userdata };
        each_sudoers_group(check_group, &k);
        return k.findings;
}

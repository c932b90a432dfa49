/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_uid.h"

/* A pid directory's name: digits only (not "self", "sys", ...). */
static bool parse_pid(const char *name, pid_t *ret) {
        char *end;
        if (name[0] < '1' || name[0] > '9')
                return false;
        errno = 0;
        long v = strtol(name, &end, 10);
        if (errno || *end || v <= 0 || (pid_t) v != v)
                return false;
        *ret = (pid_t) v;
        return true;
}

/* Read PID/status: 1 when its real, effective or saved uid is uid (its Name: in name), 0 when
 * not or when the process is gone, -errno. */
static int status_matches(int dir_fd, pid_t pid, uid_t uid, char *name, size_t name_size) {
        char path[32], line[512];
        snprintf(path, sizeof(path), "%d/status", (int) pid);
        int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                /* Exited since readdir (ENOENT), or a zombie being reaped (ESRCH). */
                return errno == ENOENT || errno == ESRCH ? 0 : -errno;
        FILE *f = fdopen(fd, "re");
        if (!f) {
                int r = -errno;
                close(fd);
                return r;
        }
        int r = 0;
        name[0] = '\0';
        while (fgets(line, sizeof(line), f)) {
                unsigned long real, effective, saved;
                if (strncmp(line, "Name:\t", 6) == 0) {
                        snprintf(name, name_size, "%.*s", (int) strcspn(line + 6, "\n"), line + 6);
                } else if (sscanf(line, "Uid:\t%lu\t%lu\t%lu", &real, &effective, &saved) == 3) {
                        r = real == uid || effective == uid || saved == uid;
                        break;
                }
        }
        if (ferror(f) && errno != ESRCH)
                r = -EIO;
        fclose(f);
        return r;
}

int roles_proc_find_uid(const char *proc_root, uid_t uid, pid_t *ret_pid, char *ret_name, size_t name_size) {
        char name[256], found_name[256] = "";
        pid_t found = 0;
        struct dirent *de;
        int r = 0;

        DIR *d = opendir(proc_root);
        if (!d)
                return -errno;
        for (errno = 0; (de = readdir(d)); errno = 0) {
                pid_t pid;
                if (!parse_pid(de->d_name, &pid) || (found && pid > found))
                        continue;
                r = status_matches(dirfd(d), pid, uid, name, sizeof(name));
                if (r < 0)
                        break;
                if (r > 0) {
                        found = pid;
                        memcpy(found_name, name, sizeof(found_name));
                }
        }
        if (r >= 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0)
                return r;
        if (!found)
                return 0;
        *ret_pid = found;
        if (ret_name)
                snprintf(ret_name, name_size, "%s", found_name);
        return 1;
}

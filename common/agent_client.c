/* SPDX-License-Identifier: MIT */
/* The login core's side of roles-agent's socket (agent-protocol.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent-protocol.h"
#include "agent_client.h"

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events until deadline: 0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short events, long long deadline) {
        for (;;) {
                long long left = deadline - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd pfd = { .fd = fd, .events = events };
                int n = poll(&pfd, 1, (int) left);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return -errno;
        }
}

int roles_agent_ask(const char *request, size_t len, char *answer, size_t answer_len) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        long long deadline = now_ms() + AGENT_CLIENT_TIMEOUT_MS;
        size_t got = 0;
        int r = 0;

        if (answer_len == 0)
                return -EINVAL;
        answer[0] = '\0';
        memcpy(sa.sun_path, AGENT_SOCKET, sizeof(AGENT_SOCKET));
        /* Non-blocking: a stuck agent must not hold the login past the deadline. SOCK_CLOEXEC: the
         * application may fork and exec meanwhile. */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
                r = -errno;
                goto out;
        }
        while (len > 0 && r >= 0) {
                if ((r = wait_fd(fd, POLLOUT, deadline)) < 0)
                        break;
                /* MSG_NOSIGNAL: an agent that went away must not end the application with SIGPIPE. */
                ssize_t n = send(fd, request, len, MSG_NOSIGNAL);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        r = -EIO;
                else {
                        request += n;
                        len -= (size_t) n;
                }
        }
        if (r >= 0 && shutdown(fd, SHUT_WR) < 0)
                r = -errno;
        while (r >= 0) {
                if ((r = wait_fd(fd, POLLIN, deadline)) < 0)
                        break;
                ssize_t n = recv(fd, answer + got, answer_len - 1 - got, 0);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                got += (size_t) n;
                answer[got] = '\0';
                char *nl = strchr(answer, '\n');
                if (nl) {
                        *nl = '\0';
                        break;
                }
                /* End of file before a whole line, or a line longer than any answer: the agent
                 * went away or is not speaking the protocol. */
                if (n == 0 || got >= answer_len - 1)
                        r = -EPROTO;
        }
out:
        close(fd);
        return r;
}

#include "core/instance_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"

/* Held until exit: closing them would release the locks. */
static int addr_lock_fd = -1, db_lock_fd = -1;

static enum gh_err lock_address(const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[16], num[NI_MAXHOST];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai) {
        gh_log(GH_LOG_ERROR, "GATEHOUSE_LISTEN: cannot resolve %s", host);
        return GH_ERR_CONFIG;
    }
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof num, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(num, sizeof num, "%s", host);

    /* 1. The lock: an abstract socket name is unique per network namespace
     *    and vanishes with the process. */
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int n = snprintf(un.sun_path + 1, sizeof un.sun_path - 1, "gatehouse-listen %s %d", num, port);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || n < 0) {
        freeaddrinfo(ai);
        if (fd >= 0) close(fd);
        return GH_ERR_INTERNAL;
    }
    socklen_t len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                    ((size_t)n < sizeof un.sun_path - 1 ? (size_t)n : sizeof un.sun_path - 1));
    bool held = bind(fd, (struct sockaddr *)&un, len) != 0;
    int err = errno;
    if (held) close(fd);

    /* 2. The probe: a bind without SO_REUSEPORT fails while any other
     *    socket listens on the port (SO_REUSEADDR: not for TIME_WAIT). */
    if (!held) {
        int pfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (pfd >= 0 && setsockopt(pfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(pfd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            held = err == EADDRINUSE;
        }
        if (pfd >= 0) close(pfd);
    }
    freeaddrinfo(ai);
    if (held && (err == EADDRINUSE)) {
        gh_log(GH_LOG_ERROR,
               "GATEHOUSE_LISTEN %s:%d is already in use by another process (another gatehouse "
               "serve?); refusing to share it",
               host, port);
        return GH_ERR_CONFIG;
    }
    if (held) {
        gh_log(GH_LOG_ERROR, "cannot lock the listen address %s:%d: %s", host, port, strerror(err));
        return GH_ERR_INTERNAL;
    }
    addr_lock_fd = fd;
    return GH_OK;
}

static enum gh_err lock_database(const char *db_path)
{
    char path[1200];
    if (snprintf(path, sizeof path, "%s.lock", db_path) >= (int)sizeof path) return GH_ERR_CONFIG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        gh_log(GH_LOG_ERROR, "cannot open the database lock %s: %s", path, strerror(errno));
        return GH_ERR_INTERNAL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        if (err == EWOULDBLOCK) {
            gh_log(GH_LOG_ERROR,
                   "the database %s is already served by another gatehouse process (%s is "
                   "locked); two servers must not share one SQLite database",
                   db_path, path);
            return GH_ERR_CONFIG;
        }
        gh_log(GH_LOG_ERROR, "cannot lock %s: %s", path, strerror(err));
        return GH_ERR_INTERNAL;
    }
    db_lock_fd = fd;
    return GH_OK;
}

enum gh_err instance_lock(const char *host, int port, const char *db_path)
{
    enum gh_err rc = GH_OK;
    if (port != 0 && addr_lock_fd < 0) rc = lock_address(host, port);
    if (rc == GH_OK && db_path && db_lock_fd < 0) rc = lock_database(db_path);
    return rc;
}

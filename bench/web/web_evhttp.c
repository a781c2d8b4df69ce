/* libevent's evhttp as a static file server, the peer bench/web measures twined web against:
 * GET/HEAD of files under DIR, bodies handed to evbuffer_add_file (sendfile under the hood).
 * Usage: web_evhttp --port PORT --path DIR, or --version. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int root_fd = -1;

/* The Content-Type of a name, by extension; the benchmark's files are .bin and .html. */
static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot != NULL && strcmp(dot, ".html") == 0)
        return "text/html";
    if (dot != NULL && strcmp(dot, ".txt") == 0)
        return "text/plain";
    return "application/octet-stream";
}

/* A decoded request path made relative to DIR, or NULL when it could leave DIR (a ".." segment, a
 * NUL or a backslash). The caller frees the result. */
static char *relative_path(struct evhttp_request *req)
{
    const char *raw = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    size_t len = 0;
    char *path = evhttp_uridecode(raw != NULL ? raw : "/", 0, &len);
    if (path == NULL)
        return NULL;
    if (strlen(path) != len || strchr(path, '\\') != NULL || strstr(path, "/../") != NULL ||
        (len >= 3 && strcmp(path + len - 3, "/..") == 0) || path[0] != '/') {
        free(path);
        return NULL;
    }
    /* "/dir/" serves "dir/index.html"; "/" serves "index.html". */
    size_t rel_len = len - 1;
    char *rel = malloc(rel_len + sizeof "index.html");
    if (rel == NULL) {
        free(path);
        return NULL;
    }
    memcpy(rel, path + 1, rel_len + 1);
    if (rel_len == 0 || rel[rel_len - 1] == '/')
        strcpy(rel + rel_len, "index.html");
    free(path);
    return rel;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    char *rel = relative_path(req);
    if (rel == NULL) {
        evhttp_send_error(req, 403, "Forbidden");
        return;
    }
    int fd = openat(root_fd, rel, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int code = (fd < 0 && errno == ENOENT) ? 404 : 403;
        if (fd >= 0)
            close(fd);
        free(rel);
        evhttp_send_error(req, code, code == 404 ? "Not Found" : "Forbidden");
        return;
    }
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", content_type(rel));
    free(rel);
    /* The reply's own buffer, flagged as one that only ever drains to the socket: that flag is what
     * lets evbuffer_add_file keep a sendfile segment instead of mapping the file and copying it. */
    struct evbuffer *body = evhttp_request_get_output_buffer(req);
    evbuffer_set_flags(body, EVBUFFER_FLAG_DRAINS_TO_FD);
    /* evbuffer_add_file owns fd from here (and closes it once the body has gone out). */
    if (st.st_size > 0 && evbuffer_add_file(body, fd, 0, st.st_size) != 0) {
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }
    if (st.st_size == 0)
        close(fd);
    evhttp_send_reply(req, 200, "OK", NULL);
}

/* The listening socket, with TCP_NODELAY, which Linux copies to every accepted socket: the head and a
 * small body go out in two writes, and Nagle would hold the second one for the peer's ACK. */
static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4096) != 0) {
        perror("web_evhttp: listen");
        exit(1);
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    fprintf(stderr, "evhttp: listening on tcp:127.0.0.1:%d\n", ntohs(sa.sin_port));
    return fd;
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s\n", event_get_version());
            return 0;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: web_evhttp --port PORT --path DIR | --version\n");
            return 2;
        }
    }
    if (dir == NULL || (root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "web_evhttp: --path must name a directory\n");
        return 2;
    }
    struct event_base *base = event_base_new();
    struct evhttp *http = base != NULL ? evhttp_new(base) : NULL;
    if (http == NULL) {
        fprintf(stderr, "web_evhttp: evhttp_new failed\n");
        return 1;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(http, 3600); /* idle keep-alive connections stay for the memory test */
    evhttp_set_gencb(http, on_request, NULL);
    if (evhttp_accept_socket_with_handle(http, listen_on(port)) == NULL) {
        fprintf(stderr, "web_evhttp: evhttp_accept_socket failed\n");
        return 1;
    }
    return event_base_dispatch(base);
}

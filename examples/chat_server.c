/* A line-based chat server on 127.0.0.1:PORT (0 picks a free port): each line a client sends goes
 * to all the others. A line receiver per client; the room is the factory's user. Ctrl-C ends it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <twine/twine.h>

typedef struct chatter {
    tw_line_receiver lines; /* first: the protocol's user is both the chatter and its receiver */
    struct chatter **room;  /* the list of everyone connected, newest first */
    struct chatter *next;
    char name[16];
} chatter;

/* Sends one line, printf-style, to everyone in the room but `from` (NULL: to everyone). */
static void say(chatter **room, const chatter *from, const char *fmt, ...)
{
    char text[TW_LINE_MAX_LENGTH_DEFAULT + 32]; /* the receiver never delivers a longer line */
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (chatter *c = *room; c; c = c->next)
        if (c != from)
            tw_line_receiver_send_line(&c->lines, text, (size_t)len);
}

static int line_received(tw_line_receiver *lr, const char *line, size_t len)
{
    chatter *me = lr->user;
    say(me->room, me, "%s: %.*s", me->name, (int)len, line);
    return 0;
}

static const tw_line_receiver_ops chat_line_ops = {.line_received = line_received};

static int connection_made(tw_protocol *p)
{
    chatter *me = p->user;
    me->lines.protocol = p; /* we send before the first line arrives */
    me->next = *me->room;
    *me->room = me;
    say(me->room, NULL, "* %s joined", me->name); /* the newcomer learns its name from this */
    return 0;
}

static void connection_lost(tw_protocol *p, const tw_failure *reason)
{
    chatter *me = p->user, **link = me->room;
    while (*link != me)
        link = &(*link)->next;
    *link = me->next; /* out of the room first: its transport takes no more writes */
    say(me->room, NULL, "* %s left (%s)", me->name, tw_failure_type(reason));
}

static void destroy(tw_protocol *p) { free(p->user); }

static const tw_protocol_ops chat_ops = {.connection_made = connection_made,
    .data_received = tw_line_receiver_protocol_data_received, .connection_lost = connection_lost,
    .destroy = destroy};

static int build_chatter(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    chatter *me = calloc(1, sizeof *me);
    if (!me)
        return -ENOMEM; /* this connection is refused; the server goes on */
    me->room = f->user;
    snprintf(me->name, sizeof me->name, "guest%u", peer->port); /* unique while connected */
    tw_line_receiver_init(&me->lines, &chat_line_ops, me);
    tw_line_receiver_set_delimiter(&me->lines, "\n", 1); /* what nc sends */
    out->ops = &chat_ops;
    out->user = me;
    return 0;
}

static const tw_factory_ops chat_factory_ops = {.build_protocol = build_chatter};

int main(int argc, char **argv)
{
    chatter *everyone = NULL; /* the room */
    tw_factory factory = {.ops = &chat_factory_ops, .user = &everyone};
    int err = 0;
    tw_reactor *r = tw_reactor_new(&err);
    tw_port *port = r ? tw_listen_tcp(r, (uint16_t)(argc > 1 ? atoi(argv[1]) : 0), "127.0.0.1", 0,
                                      &factory, &err) : NULL;
    tw_address where;
    if (!port || (err = tw_port_get_host(port, &where)) < 0 ||
        (err = tw_reactor_install_signal_handlers(r)) < 0) {
        fprintf(stderr, "chat_server: %s\n", tw_strerror(err));
        return 1;
    }
    fprintf(stderr, "chat on 127.0.0.1 port %u\n", where.port);
    tw_reactor_run(r); /* the shutdown closes every connection: each one's connection_lost runs */
    tw_port_free(port); /* stopped by the shutdown; ours to release */
    tw_reactor_free(r);
    return 0;
}

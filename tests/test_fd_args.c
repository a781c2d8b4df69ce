/* The reader and the writer of one fd keep their own arguments, whether they share one (the usual
 * case, stored once) or not (the slot splits), through adds, replacements, removals and close. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

typedef struct {
    const char *last;  /* the argument the last call got */
    int calls;
} seen;

/* An argument: the record it reports to, and its name. */
typedef struct {
    seen *log;
    char name[8];
} named_arg;

static int record_arg(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    (void)fd;
    named_arg *n = arg;
    n->log->last = n->name;
    n->log->calls++;
    return 0;
}

static void turn(tw_reactor *r, seen *rd, seen *wr)
{
    *rd = (seen){0};
    *wr = (seen){0};
    assert_true(tw_reactor_iterate(r, 0) >= 0);
}

static void test_reader_and_writer_arguments(void **state)
{
    (void)state;
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    int s[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    assert_int_equal(write(s[1], "x", 1), 1); /* s[0] readable and writable from now on */
    seen rd, wr;
    named_arg a = {&rd, "A"}, b = {&wr, "B"}, c = {&rd, "C"}, shared_rd = {&rd, "S"};

    /* different arguments: the slot splits */
    assert_int_equal(tw_reactor_add_reader(r, s[0], record_arg, &a), 0);
    assert_int_equal(tw_reactor_add_writer(r, s[0], record_arg, &b), 0);
    turn(r, &rd, &wr);
    assert_string_equal(rd.last, "A");
    assert_string_equal(wr.last, "B");

    /* replacing one side keeps the other */
    assert_int_equal(tw_reactor_add_reader(r, s[0], record_arg, &c), 0);
    turn(r, &rd, &wr);
    assert_string_equal(rd.last, "C");
    assert_string_equal(wr.last, "B");

    /* removing the reader leaves the writer its own argument */
    assert_int_equal(tw_reactor_remove_reader(r, s[0]), 0);
    turn(r, &rd, &wr);
    assert_int_equal(rd.calls, 0);
    assert_string_equal(wr.last, "B");

    /* both on one argument, then split again by a new writer argument */
    named_arg *same = &shared_rd;
    assert_int_equal(tw_reactor_remove_writer(r, s[0]), 0);
    assert_int_equal(tw_reactor_add_reader(r, s[0], record_arg, same), 0);
    assert_int_equal(tw_reactor_add_writer(r, s[0], record_arg, same), 0);
    turn(r, &rd, &wr);
    assert_int_equal(rd.calls, 2); /* reader and writer both logged into rd */
    assert_string_equal(rd.last, "S");
    assert_int_equal(tw_reactor_add_writer(r, s[0], record_arg, &b), 0);
    turn(r, &rd, &wr);
    assert_int_equal(rd.calls, 1);
    assert_string_equal(rd.last, "S");
    assert_string_equal(wr.last, "B");

    /* closing a split slot, then reusing the number, starts clean */
    assert_int_equal(tw_reactor_close_fd(r, s[0]), 0);
    int again[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, again), 0);
    assert_int_equal(tw_reactor_add_writer(r, again[0], record_arg, &b), 0);
    turn(r, &rd, &wr);
    assert_int_equal(rd.calls, 0);
    assert_string_equal(wr.last, "B");
    tw_reactor_close_fd(r, again[0]);
    close(again[1]);
    close(s[1]);
    tw_reactor_free(r); /* a split slot left at free is released too (ASan checks) */
}

static void test_split_slot_released_at_free(void **state)
{
    (void)state;
    tw_reactor *r = tw_reactor_new(NULL);
    int s[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    seen log;
    named_arg a = {&log, "A"}, b = {&log, "B"};
    assert_int_equal(tw_reactor_add_reader(r, s[0], record_arg, &a), 0);
    assert_int_equal(tw_reactor_add_writer(r, s[0], record_arg, &b), 0);
    assert_int_equal(tw_reactor_remove_all(r), 1);
    assert_int_equal(tw_reactor_add_reader(r, s[0], record_arg, &a), 0);
    assert_int_equal(tw_reactor_add_writer(r, s[0], record_arg, &b), 0);
    tw_reactor_free(r);
    close(s[0]);
    close(s[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_and_writer_arguments),
        cmocka_unit_test(test_split_slot_released_at_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

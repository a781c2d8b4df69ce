/* Test hooks of twine's kqueue emulation (tests/support/kqueue/kqueue.c), which BSD has no
 * equivalent of: they let tests reach the error branches of code that uses kqueue. Only linked into
 * kqueue builds on Linux, so tests that may run elsewhere reference them weakly. */
#ifndef TWINE_EMUL_KQUEUE_EMUL_H
#define TWINE_EMUL_KQUEUE_EMUL_H

/* The next change this thread passes to kevent() is not applied and fails with err (a positive
 * errno) instead, reported as BSD reports any failed change. 0 cancels a pending injection. */
void tw_kqueue_emul_inject_error(int err);

/* How many filters are registered on kq, or -1 if kq is not an open kqueue. */
int tw_kqueue_emul_count(int kq);

#endif

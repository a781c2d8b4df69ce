# bench/deferred, Twisted side: the same work as deferred_twine.c (Deferred(), three addCallback,
# callback, drop) with python3-twisted, CPU ns per deferred, printed as a RESULT line.
import os
import time

import twisted
from twisted.internet.defer import Deferred

seen = [0]


def pass_on(result):
    seen[0] += result
    return result


def one_deferred():
    d = Deferred()
    d.addCallback(pass_on)
    d.addCallback(pass_on)
    d.addCallback(pass_on)
    d.callback(1)


def main():
    n = int(os.environ.get("DEFERRED_PY_N", "200000"))
    for _ in range(n // 10):  # warm up
        one_deferred()
    seen[0] = 0
    t0 = time.process_time_ns()
    for _ in range(n):
        one_deferred()
    t1 = time.process_time_ns()
    if seen[0] != 3 * n:
        raise SystemExit("bench: callbacks ran %d times, expected %d" % (seen[0], 3 * n))
    # Python objects are not malloc'ed one by one (pymalloc arenas), so allocations are not counted.
    print("RESULT lib=twisted ver=%s ns=%.2f allocs=nan" % (twisted.__version__, (t1 - t0) / n), flush=True)


main()

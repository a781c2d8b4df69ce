"""Twisted's side of bench/mx: MX_N (1,000) domains through
twisted.names.client.Resolver.lookupMailExchange and one DeferredSemaphore of CONCURRENCY
tokens, gathered in one DeferredList (Twisted's classic example). Prints one RESULT line like
mx_twine. Usage: mx_twisted.py ADDR:PORT CONCURRENCY"""
import os
import resource
import sys
import time

from twisted.internet import defer, reactor
from twisted.names import client


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    concurrency = int(sys.argv[2])
    n = int(os.environ.get("MX_N", "1000"))
    resolver = client.Resolver(servers=[(host, int(port))])
    sem = defer.DeferredSemaphore(concurrency)
    names = ["d%d.example" % i for i in range(n)]
    outcome = {}

    def done(results):
        outcome["end"] = time.monotonic()
        outcome["good"] = sum(1 for ok, r in results if ok and len(r[0]) == 2)
        reactor.stop()

    def start():
        outcome["start"] = time.monotonic()
        ds = [sem.run(resolver.lookupMailExchange, name) for name in names]
        defer.DeferredList(ds, consumeErrors=True).addCallback(done)

    reactor.callWhenRunning(start)
    reactor.run()
    if outcome.get("good") != n:
        sys.exit("mx_twisted: only %s of %d lookups returned the server's records"
                 % (outcome.get("good"), n))
    import twisted
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT lib=twisted ver=%s conc=%d wall_ms=%.3f rss=%.1f"
          % (twisted.__version__, concurrency, (outcome["end"] - outcome["start"]) * 1000, rss_mb))


main()

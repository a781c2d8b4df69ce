#!/usr/bin/env bash
# Every public header stands alone: each include/twine/*.h, included first and by itself, compiles
# with the project's warning flags as a user's C11 program (no -D_GNU_SOURCE) and, where a C++
# compiler is installed, as C++ (the headers promise extern "C"; not -Wpedantic there, which refuses
# C's flexible array members). Run by `make test`.
set -u
cd "$(dirname "$0")/.."

CC=${CC:-cc}
CXX=${CXX:-c++}
WARN="-Wall -Wextra -Wpedantic -Werror"
failed=0
for h in include/twine/*.h; do
    name=${h#include/}
    if ! printf '#include <%s>\nint main(void) { return 0; }\n' "$name" |
        $CC -std=c11 $WARN -Wshadow -Wstrict-prototypes -Iinclude -fsyntax-only -x c - 2>&1; then
        echo "header $name does not compile alone as C11"
        failed=1
    fi
    if command -v "$CXX" > /dev/null &&
        ! printf '#include <%s>\nint main() { return 0; }\n' "$name" |
        $CXX -std=c++11 -Wall -Wextra -Werror -Iinclude -fsyntax-only -x c++ - 2>&1; then
        echo "header $name does not compile alone as C++"
        failed=1
    fi
done
exit $failed

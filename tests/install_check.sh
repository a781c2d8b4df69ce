#!/bin/sh
# Installs twine into a scratch prefix and builds a program against it from outside the tree with
# pkg-config, shared and static, as a user would. Run by `make install-check`.
set -eu
top=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
make -s install PREFIX="$scratch/prefix" >/dev/null
cat > "$scratch/app.c" <<'APP'
#include <stdio.h>
#include <twine/twine.h>
static int stop(void *arg) { return tw_reactor_stop(arg); }
int main(void)
{
    tw_reactor *r = tw_reactor_new(NULL);
    if (!r || !tw_call_later(r, 0.001, stop, r, NULL) || tw_reactor_run(r) != 0)
        return 1;
    tw_reactor_free(r);
    printf("installed twine runs (backend %s)\n", tw_reactor_backend());
    return 0;
}
APP
export PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig"
cd "$scratch"
cc app.c $(pkg-config --cflags --libs twine) -o app_shared
LD_LIBRARY_PATH="$scratch/prefix/lib" ./app_shared
cc app.c $(pkg-config --cflags --libs --static twine) -static -o app_static
./app_static
cd "$top"

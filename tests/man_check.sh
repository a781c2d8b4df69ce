#!/usr/bin/env bash
# The manual agrees with the program: for every subcommand `twined --help` lists, the man page
# (docs/twined.1) and docs/twined.md each have a section, and that section names the same long
# options as `twined SUBCOMMAND --help` (docs/twined.md documents --help once, for all); the global
# options agree likewise, and its title names the version twined reports. The page renders without
# a groff warning, and the copy `make` installed into the scratch prefix is the one `man twined`
# finds there. Run by `make test`.
#
# Environment: TWINE_BUILD (build/BACKEND, holding twined and stage/, the scratch prefix).
set -u
cd "$(dirname "$0")/.."
build=$(cd "${TWINE_BUILD:-build/epoll}" && pwd)
twined=$build/twined
page=docs/twined.1
guide=docs/twined.md
failed=0

complain() {
    echo "man check: $*"
    failed=1
}

# Long options named in text on stdin, sorted, one a line (roff's \- read as -).
long_options() {
    sed 's/\\-/-/g' | grep -oE -- '--[a-z][a-z-]*' | sort -u
}

# Options a --help text defines: lines of its options list, "  --name ..." or "  -x, --name ...".
help_options() {
    grep -E -- '^ +(-[A-Za-z], )?--[a-z]' | sed -E 's/^ +(-[A-Za-z], )?//' | long_options
}

# The man page's section for one command: from ".SS "NAME ..." to the next .SS or .SH.
man_command() {
    awk -v name="$1" '/^\.S[SH]/ { on = 0 } $0 ~ "^\\.SS \"?" name "( |\"|$)" { on = 1; next } on' \
        "$page"
}

# The man page's global options: its OPTIONS section.
man_global() {
    awk '/^\.SH/ { on = ($2 == "OPTIONS"); next } on' "$page"
}

# The guide's section for one command: from "### `twined NAME" to the next heading.
guide_command() {
    awk -v name="$1" '/^##/ { on = 0 } index($0, "### `twined " name) == 1 { on = 1; next } on' \
        "$guide"
}

# The guide's global options: the table of its "Common options" section.
guide_global() {
    awk '/^## / { on = index($0, "## Common options") == 1; next } on && /^\|/' "$guide"
}

# Compares two option lists; says which options only one side names.
same_options() { # WHAT A-NAME A-LIST B-NAME B-LIST
    local only_a only_b
    only_a=$(comm -23 <(echo "$3") <(echo "$5") | tr '\n' ' ')
    only_b=$(comm -13 <(echo "$3") <(echo "$5") | tr '\n' ' ')
    [ -z "$only_a$only_b" ] && return 0
    complain "$1: only in $2: ${only_a:-none}; only in $4: ${only_b:-none}"
}

if [ ! -x "$twined" ]; then
    echo "man check: $twined is not built"
    exit 1
fi
top_help=$("$twined" --help) || complain "twined --help exits non-zero"
commands=$(echo "$top_help" |
    awk '/^commands:/ { on = 1; next } on && NF == 0 { on = 0 } on { print $1 }')
[ -n "$commands" ] || complain "twined --help lists no commands"

same_options "global options" "twined --help" "$(echo "$top_help" | long_options)" \
    "$page" "$(man_global | long_options)"
same_options "global options" "twined --help" "$(echo "$top_help" | long_options)" \
    "$guide" "$(guide_global | long_options)"

for cmd in $commands; do
    help=$("$twined" "$cmd" --help) || complain "twined $cmd --help exits non-zero"
    help_opts=$(echo "$help" | awk '/^options:/ { on = 1; next } on && NF == 0 { on = 0 } on' |
        help_options)
    [ -n "$help_opts" ] || complain "twined $cmd --help lists no options"
    man_text=$(man_command "$cmd")
    guide_text=$(guide_command "$cmd")
    [ -n "$man_text" ] || complain "$page has no section for '$cmd' (.SS \"$cmd ...\")"
    [ -n "$guide_text" ] || complain "$guide has no section for '$cmd' (### \`twined $cmd ...\`)"
    same_options "twined $cmd" "--help" "$help_opts" "$page" "$(echo "$man_text" | long_options)"
    same_options "twined $cmd" "--help" "$help_opts" "$guide" \
        "$( (echo "$guide_text"; echo --help) | long_options)"
done

# Sections for commands twined does not have would document what does not exist.
for cmd in $(awk '/^\.SH/ { on = ($2 == "COMMANDS"); next } on && /^\.SS/ { print $2 }' "$page" |
    tr -d '"'); do
    echo "$commands" | grep -qx "$cmd" || complain "$page documents '$cmd', which twined lacks"
done

version=$("$twined" --version | awk '{print $2}')
grep -q "^\.TH TWINED 1 .*\"twine $version\"" "$page" ||
    complain "$page: the .TH line does not name twine $version (twined --version)"

warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
[ -z "$warnings" ] || complain "groff warns about $page: $warnings"

if command -v man > /dev/null; then
    found=$(MANPATH="$build/stage/share/man" man -w twined 2>&1)
    [ "$found" = "$build/stage/share/man/man1/twined.1" ] ||
        complain "man twined in the scratch prefix finds '$found', not the installed page"
    cmp -s "$page" "$build/stage/share/man/man1/twined.1" ||
        complain "the installed page differs from $page (make examples re-installs it)"
    MANPATH="$build/stage/share/man" MANWIDTH=80 man twined 2> /dev/null |
        grep -q "twined - run twine's servers" || complain "man twined does not render the page"
else
    echo "man check: man is not installed; the installed page was not looked up"
fi

[ "$failed" -eq 0 ] && echo "man check: twined.1, twined.md and --help agree ($(echo $commands))"
exit "$failed"

#!/usr/bin/env python3
"""Writes docs/reference/: one Markdown page per public header (include/twine/*.h), made from the
header's own comments and declarations, and an index. The headers are the source of truth; these
pages only lay them out for reading and searching. Run by `make docs`; `--check` (run by
`make docs-check` and `make test`) fails when a committed page differs from what the headers give,
or when docs/twisted-names.md leaves a public function out (a name, or a pattern such as
`tw_lock_*`, in its twine column).

How a header is read: the comment at its top introduces the page; a comment "/* ---- title ---"
starts a section; any other comment describes the declarations right below it (up to a blank line
or the next comment), which are shown as code, with TW_API and TW__MUST_CHECK left out. Inside
a comment, a line that starts "term: " and goes on in indented lines is a definition (a bullet),
and an indented run that lines things up in columns (two spaces inside a line) is kept as text.
"""
import argparse
import fnmatch
import os
import re
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HEADERS = os.path.join(ROOT, "include", "twine")
OUT = os.path.join(ROOT, "docs", "reference")
NAME_MAP = os.path.join(ROOT, "docs", "twisted-names.md")
NOTE = ("<!-- Generated from include/twine/{name} by docs/tools/reference.py (make docs). "
        "Edit the header, not this page. -->")

SECTION = re.compile(r"^/\*\s*-{2,}\s*(.*?)\s*-*\s*(\*/)?\s*$")
SKIP = re.compile(r'^(#ifndef TWINE(_\w+)?_H|#define TWINE(_\w+)?_H|#include\b|extern "C" \{|\}$)')
INCLUDE = re.compile(r'^#include "(\w+\.h)"')


def comment_lines(block):
    """The text lines of a comment block (its source lines), markers and the ' * ' gutter gone."""
    lines = []
    for i, line in enumerate(block):
        text = line.rstrip()
        if i == 0:
            text = re.sub(r"^\s*/\*+ ?", "", text)
        else:
            text = re.sub(r"^\s*\* ?", "", text)
        text = re.sub(r"\s*\*/\s*$", "", text)
        lines.append(text)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def escape(text):
    """Comment text made literal for Markdown: backslashes, stars, angle brackets and underscores
    that start or end a word would otherwise be read as markup."""
    text = re.sub(r"([\\*<`])", r"\\\1", text)
    return re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)


def prose(lines):
    """Comment text as Markdown: paragraphs, a bullet for each "term: ..." line whose text goes
    on in indented lines below it (a definition), indented "- " lines as a list, capitals before
    a colon in bold, and indented runs that line things up in columns kept as text."""
    out, para = [], []
    in_list = False

    def flush():
        if para:
            out.extend([" ".join(para), ""])
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
            continue
        if line.startswith("  "):
            run = []
            while i < len(lines) and lines[i].startswith("  "):
                run.append(lines[i])
                i += 1
            if para and not any(re.search(r"\S {2,}\S", r.strip()) for r in run):
                for r in run:  # a definition or sentence going on, or a list ("- ...")
                    if r.strip().startswith("- "):
                        flush()
                        para.append("- " + escape(r.strip()[2:]))
                        in_list = True
                    else:
                        para.append(escape(r.strip()))
            else:
                flush()
                out.extend(["```text"] + [r[2:] for r in run] + ["```", ""])
            continue
        if in_list:  # an unindented line after a list starts a paragraph of its own
            flush()
            in_list = False
        term = re.match(r"^([^.;]{1,60}?): (.*)$", line)
        goes_on = i + 1 < len(lines) and lines[i + 1].startswith("  ")
        if term and goes_on:
            flush()
            para.append("- **%s:** %s" % (escape(term.group(1)), escape(term.group(2))))
        elif term and not para and re.fullmatch(r"[A-Z][A-Z ]*[A-Z]", term.group(1)):
            para.append("**%s:** %s" % (term.group(1), escape(term.group(2))))
        else:
            para.append(escape(line.strip()))
        i += 1
    flush()
    return out


def comment_end(src, i):
    """The index of the line that closes the comment opening on line i."""
    if "*/" in src[i][src[i].index("/*") + 2:]:
        return i
    while "*/" not in src[i + 1]:
        i += 1
    return i + 1


def read_header(path):
    """(intro lines, quoted includes, [(section title, section prose, [(prose, code)])])"""
    with open(path, encoding="utf-8") as f:
        src = f.read().split("\n")
    intro, includes, sections = [], [], [["", [], []]]
    pending, code, depth, in_cpp, dedent = None, [], 0, 0, False
    i = 0

    def close_item():
        nonlocal pending, code
        if pending is not None or code:
            sections[-1][2].append((pending or [], code))
        pending, code = None, []

    while i < len(src):
        line = src[i]
        stripped = line.strip()
        if in_cpp:  # the extern "C" guard and its #endif
            in_cpp = 0 if stripped.startswith("#endif") else 1
            i += 1
            continue
        if stripped == "#ifdef __cplusplus":
            in_cpp = 1
            i += 1
            continue
        if stripped.startswith("/*") and depth == 0:
            end = comment_end(src, i)
            block = src[i:end + 1]
            i = end + 1
            m = SECTION.match(block[0].strip())
            if not intro and not sections[0][2] and pending is None and not code:
                intro = comment_lines(block)
                continue
            close_item()
            if m:
                sections.append([m.group(1), comment_lines(block)[1:], []])
            else:
                pending = comment_lines(block)
            continue
        if not stripped:
            if depth == 0:
                close_item()
            i += 1
            continue
        if depth == 0 and (SKIP.match(stripped) or (stripped == "#endif" and i >= len(src) - 3)):
            if INCLUDE.match(stripped):
                includes.append(INCLUDE.match(stripped).group(1))
            i += 1
            continue
        if dedent and line.startswith(" " * (len("TW_API ") + 4)):
            line = line[len("TW_API "):]  # the arguments of a declaration that lost its TW_API
        dedent = (dedent or "TW_API " in line) and not line.rstrip().endswith((";", "{", "}"))
        text = re.sub(r"^(\s*)TW_API ", r"\1", line.rstrip())
        code.append(text if "#define" in text else re.sub(r" TW__MUST_CHECK;", ";", text))
        depth += line.count("{") - line.count("}")
        if "/*" in line:  # a trailing comment may go on below
            end = comment_end(src, i)
            code.extend(l.rstrip() for l in src[i + 1:end + 1])
            i = end
        i += 1
    close_item()
    return intro, includes, [s for s in sections if s[0] or s[1] or s[2]]


def names_in(code):
    """Public names a code block declares: functions, types, macros, enumerators."""
    text = "\n".join(code)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found = re.findall(r"\b(tw_\w+)\s*\(", text)
    found += re.findall(r"#define\s+(TW_\w+)", text)
    found += re.findall(r"\}\s*(tw_\w+)\s*;", text)
    found += re.findall(r"typedef\s+[^;{]*?\b(tw_\w+)\s*;", text)
    found += re.findall(r"\(\*\s*(tw_\w+)\)", text)
    if re.search(r"\benum\b", text):
        found += re.findall(r"\b(TW_[A-Z0-9_]+)\s*(?==|,|\})", text)
    seen, out = set(), []
    for n in found:
        if n not in seen and not n.lower().startswith("tw__"):  # tw__: twine's own, not API
            seen.add(n)
            out.append(n)
    return out


def anchor(title):
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def page(name, intro, includes, sections):
    lines = [NOTE.format(name=name), "", "# `<twine/%s>`" % name, ""]
    lines += prose(intro)
    if includes:
        lines.append("Includes: " + ", ".join("[`<twine/%s>`](%s.md)" % (h, h[:-2])
                                              for h in includes) + ".")
        lines.append("")
    titled = [s for s in sections if s[0]]
    if titled:
        links = ["[%s](#%s)" % (t, anchor(t)) for t, _, _ in titled]
        lines.append("Sections: " + ", ".join(links) + ".")
        lines.append("")
    all_names = [n for _, _, items in sections for _, code in items for n in names_in(code)]
    if all_names:
        lines.append("Declares: " + ", ".join("`%s`" % n for n in all_names) + ".")
        lines.append("")
    for title, text, items in sections:
        if title:
            lines += ["## " + escape(title), ""]
        lines += prose(text)
        for comment, code in items:
            if code:
                lines += ["```c"] + code + ["```", ""]
            lines += prose(comment)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def summary(intro):
    """The first sentence of a header's intro."""
    text = " ".join(l.strip() for l in intro if l.strip())
    m = re.match(r"(.+?\.)(\s|$)", text)
    return m.group(1) if m else text


def generate(out_dir):
    headers = sorted(h for h in os.listdir(HEADERS) if h.endswith(".h"))
    index = ["<!-- Generated by docs/tools/reference.py (make docs). "
             "Edit the headers, not this page. -->", "", "# Reference: the public headers", "",
             "One page per header of `include/twine/`, made from the header itself: its comments",
             "and its declarations, in its order. `<twine/twine.h>` includes them all. The guides",
             "in [docs/](../README.md) explain the same API with complete programs.", "",
             "| header | what it holds |", "|---|---|"]
    pages = {}
    for h in headers:
        intro, includes, sections = read_header(os.path.join(HEADERS, h))
        md = h[:-2] + ".md"
        pages[md] = page(h, intro, includes, sections)
        index.append("| [`<twine/%s>`](%s) | %s |" % (h, md, summary(intro).replace("|", "\\|")))
    pages["README.md"] = "\n".join(index) + "\n"
    os.makedirs(out_dir, exist_ok=True)
    for md, text in pages.items():
        with open(os.path.join(out_dir, md), "w", encoding="utf-8") as f:
            f.write(text)
    return set(pages)


def public_functions():
    """Every function the public headers declare."""
    found = set()
    for h in os.listdir(HEADERS):
        if h.endswith(".h"):
            _, _, sections = read_header(os.path.join(HEADERS, h))
            for _, _, items in sections:
                for _, code in items:
                    text = re.sub(r"/\*.*?\*/", "", "\n".join(code), flags=re.S)
                    found.update(re.findall(r"\b(tw_\w+)\s*\(", text))
    return found


def unmapped_functions():
    """Public functions that no name or pattern (tw_x_*) in the twine column of the Twisted name
    map covers."""
    with open(NAME_MAP, encoding="utf-8") as f:
        rows = [l.split("|") for l in f if l.startswith("| ") and l.count("|") >= 5]
    patterns = [t for r in rows for t in re.findall(r"`(tw_[\w*]+)`", r[2])]
    return sorted(n for n in public_functions()
                  if not any(fnmatch.fnmatchcase(n, p) for p in patterns))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with docs/reference/, write nothing")
    args = ap.parse_args()
    if not args.check:
        made = generate(OUT)
        for stale in set(os.listdir(OUT)) - made:
            if stale.endswith(".md"):
                os.remove(os.path.join(OUT, stale))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        made = generate(tmp)
        have = set(f for f in os.listdir(OUT) if f.endswith(".md")) if os.path.isdir(OUT) else set()
        bad = sorted(made ^ have)
        for md in sorted(made & have):
            with open(os.path.join(tmp, md), encoding="utf-8") as a, \
                    open(os.path.join(OUT, md), encoding="utf-8") as b:
                if a.read() != b.read():
                    bad.append(md)
    status = 0
    if bad:
        print("docs/reference is out of date (%s): run `make docs` and commit the result"
              % ", ".join(bad))
        status = 1
    missing = unmapped_functions()
    if missing:
        print("docs/twisted-names.md names no Twisted counterpart (or none) for: %s"
              % ", ".join(missing))
        status = 1
    if status == 0:
        print("docs/reference: %d pages up to date; docs/twisted-names.md maps every public "
              "function" % len(made))
    return status


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Regenerates script/src/redis_commands.rs from the recorded server dialects.

Usage: python3 script/tools/gen_redis_commands.py [tools/dialect/<server>.json ...]

Reads the `commands` tables that `tools/gen_dialect.py` recorded from the real
servers of the test matrix (default: every tools/dialect/*.json) and writes
their union as the Rust table the Lua check uses: a command is in it if any
server has it, and counts as writing if any server with script flags refuses it in a
`#!lua flags=no-writes` script (COMMAND's `write` flag, or found by probing:
may-replicate commands such as PUBLISH and PFCOUNT), so a script that is
read-only on one server is not let through for another. Key positions come
from the first server listed that has the command (Redis 7.0.15 first). No server is
started here: gen_dialect.py already did. Needs only the standard library.
"""
import glob
import json
import subprocess
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
# Redis 7.0.15 first: its key positions were the table's before the matrix.
DIALECTS = sys.argv[1:] or sorted(
    glob.glob(os.path.join(ROOT, "tools", "dialect", "*.json")),
    key=lambda p: (not p.endswith("redis-7.0.15.json"), p),
)
OUT = os.path.join(HERE, "..", "src", "redis_commands.rs")
DIALECT_OUT = os.path.join(HERE, "..", "src", "dialect", "table.rs")


def main():
    dialects = []
    for path in DIALECTS:
        with open(path) as f:
            dialects.append(json.load(f))
    table = {}
    for d in dialects:
        for name, c in d["commands"].items():
            # A server without script flags (6.2) runs no `no-writes` script,
            # and its COMMAND flags whole containers (`xgroup`): it names
            # commands and keys, but says nothing of what `no-writes` refuses.
            writes = d["script_flags"] and (c["write"] or c["no_writes_refused"])
            if name in table:
                table[name][0] = table[name][0] or writes
            else:
                table[name] = [writes, *c["keys"]]
    rows = sorted((name, *row) for name, row in table.items())
    servers = ", ".join("%s %s" % (d["server"], d["version"]) for d in dialects)
    with open(OUT, "w") as f:
        f.write("//! Redis command table for lua_check.rs.\n//!\n")
        f.write("//! generated from COMMAND on %s (tools/dialect/) by `python3 script/tools/gen_redis_commands.py`\n"
                % servers)
        f.write("//! (do not edit by hand; re-run tools/gen_dialect.py, then this script, to refresh it).\n//!\n")
        f.write("//! `(name, is_write, first_key, last_key, step)`, the union over those servers:\n")
        f.write("//! `name` is lowercase, subcommands are `container|sub`; `is_write` is true when a\n")
        f.write("//! `no-writes` script may not call the command on any of them (COMMAND's `write` flag, plus may-replicate\n")
        f.write("//! commands such as PUBLISH and PFCOUNT found by probing); the key positions\n")
        f.write("//! are COMMAND's, in the command's argv: keys at `first_key`, then every\n")
        f.write("//! `step` up to `last_key` (negative: counted from the end, -1 is the last\n")
        f.write("//! argument; `first_key` 0: no fixed key position). Sorted by name.\n\n")
        f.write("pub static COMMANDS: &[(&str, bool, i32, i32, i32)] = &[\n")
        for name, is_write, first, last, step in rows:
            f.write('    ("%s", %s, %d, %d, %d),\n' % (name, "true" if is_write else "false", first, last, step))
        f.write("];\n")
    print("wrote %d commands to %s" % (len(rows), os.path.normpath(OUT)))
    write_dialects(sorted(dialects, key=lambda d: (d["server"], version_key(d["version"]))))


def version_key(v):
    return tuple(int(x) for x in v.split("."))


def rust_list(names, indent):
    body = "".join('%s"%s",\n' % (" " * (indent + 4), n) for n in names)
    return "&[\n%s%s]" % (body, " " * indent)


def write_dialects(dialects):
    """Each server's Lua sandbox: its globals and the members of its library
    tables. A list several servers share is written once, as a const."""
    consts = {}  # tuple of names -> const name

    def intern(kind, names):
        names = tuple(names)
        if names not in consts:
            n = sum(1 for k in consts.values() if k.startswith(kind + "_"))
            consts[names] = "%s_%d" % (kind, n)
        return consts[names]

    rows = []
    for d in dialects:
        major_minor = ".".join(d["version"].split(".")[:2])
        globals = intern("GLOBALS", sorted(g for g in d["globals"] if not g.startswith("__")))
        libs = [(lib, intern(lib.upper(), sorted(d["libraries"][lib])))
                for lib in sorted(d["libraries"]) if lib not in ("KEYS", "ARGV")]
        rows.append((d, major_minor, globals, libs))
    with open(DIALECT_OUT, "w") as f:
        f.write("//! The Lua sandbox of each server of the test matrix.\n//!\n")
        f.write("//! generated from tools/dialect/*.json by `python3 script/tools/gen_redis_commands.py`\n")
        f.write("//! (do not edit by hand; re-run tools/gen_dialect.py, then that script, to refresh it).\n\n")
        f.write("use super::Dialect;\n\n")
        for names, const in consts.items():
            f.write("const %s: &[&str] = %s;\n" % (const, rust_list(names, 0)))
        f.write("\npub(super) static DIALECTS: &[Dialect] = &[\n")
        for d, major_minor, globals, libs in rows:
            f.write("    Dialect {\n")
            f.write('        id: "%s-%s",\n' % (d["server"], major_minor))
            f.write('        server: "%s %s",\n' % (d["server"].capitalize(), d["version"]))
            f.write("        script_flags: %s,\n" % ("true" if d["script_flags"] else "false"))
            f.write("        globals: %s,\n" % globals)
            f.write("        libraries: &[\n")
            for lib, const in libs:
                f.write('            ("%s", %s),\n' % (lib, const))
            f.write("        ],\n")
            f.write("    },\n")
        f.write("];\n")
    print("wrote %d dialects to %s" % (len(dialects), os.path.normpath(DIALECT_OUT)))


if __name__ == "__main__":
    main()
    # The tables are checked by `cargo fmt --check` like any source.
    subprocess.run(["rustfmt", "--edition", "2021", OUT, DIALECT_OUT], check=False)

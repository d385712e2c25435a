#!/usr/bin/env python3
"""Regenerates script/src/redis_commands.rs from a recorded server dialect.

Usage: python3 script/tools/gen_redis_commands.py [tools/dialect/<server>.json]

Reads the `commands` table that `tools/gen_dialect.py` recorded from a real
server's `COMMAND` (default: Redis 7.0.15's) and writes it as the Rust table
the Lua check uses. No server is started here: gen_dialect.py already did, and
it also found by probing which commands without COMMAND's `write` flag a
`#!lua flags=no-writes` script may not call (may-replicate commands such as
PUBLISH and PFCOUNT). Needs only the standard library.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DIALECT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tools", "dialect", "redis-7.0.15.json")
OUT = os.path.join(HERE, "..", "src", "redis_commands.rs")


def main():
    with open(DIALECT) as f:
        dialect = json.load(f)
    rows = sorted(
        (name, c["write"] or c["no_writes_refused"], *c["keys"])
        for name, c in dialect["commands"].items()
    )
    source = os.path.relpath(DIALECT, ROOT)
    with open(OUT, "w") as f:
        f.write("//! Redis command table for lua_check.rs.\n//!\n")
        f.write("//! generated from COMMAND on %s %s (%s) by `python3 script/tools/gen_redis_commands.py`\n"
                % (dialect["server"], dialect["version"], source))
        f.write("//! (do not edit by hand; re-run tools/gen_dialect.py, then this script, to refresh it).\n//!\n")
        f.write("//! `(name, is_write, first_key, last_key, step)`: `name` is lowercase,\n")
        f.write("//! subcommands are `container|sub`; `is_write` is true when a `no-writes`\n")
        f.write("//! script may not call the command (COMMAND's `write` flag, plus may-replicate\n")
        f.write("//! commands such as PUBLISH and PFCOUNT found by probing); the key positions\n")
        f.write("//! are COMMAND's, in the command's argv: keys at `first_key`, then every\n")
        f.write("//! `step` up to `last_key` (negative: counted from the end, -1 is the last\n")
        f.write("//! argument; `first_key` 0: no fixed key position). Sorted by name.\n\n")
        f.write("pub static COMMANDS: &[(&str, bool, i32, i32, i32)] = &[\n")
        for name, is_write, first, last, step in rows:
            f.write('    ("%s", %s, %d, %d, %d),\n' % (name, "true" if is_write else "false", first, last, step))
        f.write("];\n")
    print("wrote %d commands to %s" % (len(rows), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()

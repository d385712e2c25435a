#!/usr/bin/env python3
"""Records each matrix server's Lua dialect, for a dialect-aware Lua checker.

Usage: python3 tools/gen_dialect.py [OUT_DIR]
       (default tools/dialect; servers from tools/servers.sh)

Starts each server of tools/servers.sh and writes `<server>-<version>.json`
(e.g. redis-7.0.15.json, valkey-9.1.2.json) with, as scripts see it by EVAL:

- "server", "version": `redis`/`valkey` and its own version (Valkey's, not
  the redis_version:7.2.4 it also reports);
- "globals": every name in `_G` and its Lua type (KEYS and ARGV included;
  names starting with `__` are the server's internals);
- "libraries": for every table in `_G` (string, math, cjson, redis, server,
  os, bit, ...), its member names and their Lua types;
- "insecure_api": whether getfenv, setfenv, newproxy and loadstring exist;
- "script_flags": whether a `#!lua flags=no-writes` first line compiles;
- "commands": from COMMAND, every command and subcommand (`container|sub`,
  lower case) with "write" (COMMAND's write flag), "no_writes_refused" (a
  `no-writes` script may not call it: the write flag, or refused when a
  no-writes script calls it with dummy arguments, as PUBLISH is; on servers
  without script flags this equals "write") and "keys" `[first, last, step]`
  (COMMAND's key positions in argv: 0 = no fixed key position, a negative
  last counts from the end).

Keys are sorted and the output is deterministic, so a re-run that changes a
file means the server changed. The probe is the approach of
macros/tools/gen_redis_commands.py. Standard library only.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(matrix.TOOLS, "dialect")
READ_ONLY_ERR = "Write commands are not allowed from read-only scripts"

# Every global and, for tables, their members, as "name\ttype" and
# "table.member\ttype" lines. rawget/pairs so that the strict-mode
# metatables of the servers do not interfere.
DIALECT_SCRIPT = """
local out = {}
for name, value in pairs(_G) do
  local t = type(value)
  out[#out + 1] = name .. '\\t' .. t
  if t == 'table' and value ~= _G then
    for member, v in pairs(value) do
      if type(member) == 'string' then
        out[#out + 1] = name .. '.' .. member .. '\\t' .. type(v)
      end
    end
  end
end
return out
"""


def entries(cmds):
    """(name, flags, (first, last, step), arity, has_subcommands) of each command and subcommand."""
    for c in cmds:
        subs = c[9] if len(c) > 9 and c[9] else []
        yield c[0].lower(), c[2], (c[3], c[4], c[5]), c[1], bool(subs)
        for s in subs:
            yield s[0].lower(), s[2], (s[3], s[4], s[5]), s[1], False


def refused_by_no_writes(conn, name, arity):
    argv = name.split("|")
    while len(argv) < abs(arity):
        argv.append("redlua-probe")
    script = "#!lua flags=no-writes\nreturn redis.pcall(unpack(ARGV))"
    reply = conn.call("EVAL", script, 0, *argv)
    return isinstance(reply, matrix.ErrorReply) and READ_ONLY_ERR in reply


def dialect(binary):
    with matrix.server(binary) as port:
        conn = matrix.Conn(port)
        ident = matrix.server_id(conn)
        lines = conn.call("EVAL", DIALECT_SCRIPT, 0)
        if isinstance(lines, matrix.ErrorReply):
            sys.exit("%s: the dialect script failed: %s" % (ident, lines))
        globals_, libraries = {}, {}
        for line in lines:
            name, t = line.split("\t")
            # Redis 6.2 keeps each EVAL'd script as a global function
            # f_<sha1>: here the dialect script itself, not part of the dialect.
            if re.fullmatch(r"f_[0-9a-f]{40}", name.split(".")[0]):
                continue
            if "." in name:
                lib, member = name.split(".", 1)
                libraries.setdefault(lib, {})[member] = t
            else:
                globals_[name] = t
        for name, t in globals_.items():
            if t == "table" and name != "_G":
                libraries.setdefault(name, {})
        flags = conn.call("EVAL", "#!lua flags=no-writes\nreturn 1", 0) == 1
        commands = {}
        for name, cflags, keys, arity, container in entries(conn.call("COMMAND")):
            write = "write" in cflags
            refused = write
            if flags and not write and not container and "noscript" not in cflags:
                refused = refused_by_no_writes(conn, name, arity)
            commands[name] = {"write": write, "no_writes_refused": refused, "keys": list(keys)}
        conn.close()
    server, version = ident.split("-", 1)
    return ident, {
        "server": server,
        "version": version,
        "globals": globals_,
        "libraries": libraries,
        "insecure_api": {f: f in globals_ for f in ["getfenv", "setfenv", "newproxy", "loadstring"]},
        "script_flags": flags,
        "commands": commands,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for _, binary in matrix.matrix():
        ident, data = dialect(binary)
        path = os.path.join(OUT, ident + ".json")
        with open(path, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote %s: %d globals, %d libraries, %d commands" % (
            os.path.relpath(path, matrix.ROOT), len(data["globals"]),
            len(data["libraries"]), len(data["commands"])))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Records the exact replies of every server of the test matrix to the
scripting errors redlua has to parse, as unit-test fixtures.

Usage: python3 tools/record_replies.py [OUT_DIR]
       (default runtime/tests/fixtures/replies; servers from tools/servers.sh)

Writes one file per server, `<server>-<version>.txt` (e.g. redis-7.0.15.txt,
valkey-9.1.2.txt), with one line per case:

    case_name<TAB>reply

where `reply` is the RESP2 reply with its type byte: `-ERR ...` for an error
reply, `+OK` for a status, `:1` for an integer, `$text` for a bulk string,
`$nil` for a null, `*[...]` for an array (a JSON list of the elements). In the
text `\\` is written `\\\\`, a newline `\\n`, a carriage return `\\r` and a tab
`\\t`. Lines starting with `#` are comments. Cases are in a fixed order and the
scripts are fixed texts, so the SHA1s in the replies are the same on every run.
A case a server cannot run still gets its reply (e.g. `-ERR unknown command`
on Redis 6.2): that reply is what a client sees there.
"""
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    matrix.ROOT, "runtime", "tests", "fixtures", "replies")

WRITE_SCRIPT = "return redis.call('SET', KEYS[1], 'v')"
READ_SCRIPT = "return redis.call('GET', KEYS[1])"
UNKNOWN_SHA = "ffffffffffffffffffffffffffffffffffffffff"
LONG_SCRIPT = "local i = 0\nwhile true do i = i + 1 end"
# Functions (Redis 7+): one that errors at run time on line 3 of the library.
LIBRARY = """#!lua name=redlua_fixture
redis.register_function('fails', function(keys, args)
  local x = nil + 1
end)
redis.register_function('writes', function(keys, args)
  return redis.call('SET', keys[1], 'v')
end)
"""

# (name, description, command): run in this order on a fresh server, on
# one connection; the string key `str` holds a string throughout.
CASES = [
    ("runtime_error", "Lua runtime error on line 1",
     ["EVAL", "local x = nil + 1", 0]),
    ("runtime_error_line3", "Lua runtime error on line 3",
     ["EVAL", "local a = 1\nlocal b = 2\nlocal x = nil + 1", 0]),
    ("runtime_error_evalsha", "the same run by EVALSHA after SCRIPT LOAD",
     ["EVALSHA", hashlib.sha1(b"local a = 1\nlocal b = 2\nlocal x = nil + 1").hexdigest(), 0]),
    ("error_string", "error('boom') on line 2",
     ["EVAL", "local a = 1\nerror('boom')", 0]),
    ("error_string_level0", "error('boom', 0): no position",
     ["EVAL", "error('boom', 0)", 0]),
    ("error_table", "error({err='MYCODE boom'})",
     ["EVAL", "local a = 1\nerror({err='MYCODE boom'})", 0]),
    ("error_table_no_code", "error({err='boom'}): an err without an upper-case code",
     ["EVAL", "error({err='boom'})", 0]),
    ("call_wrongtype", "failing redis.call (LPUSH on a string key) on line 2",
     ["EVAL", "local a = 1\nreturn redis.call('LPUSH', KEYS[1], 'x')", 1, "str"]),
    ("call_unknown_command", "redis.call of a command that does not exist",
     ["EVAL", "return redis.call('NOSUCHCOMMAND')", 0]),
    ("call_wrong_arity", "redis.call('GET') with no key",
     ["EVAL", "return redis.call('GET')", 0]),
    ("pcall_wrongtype", "redis.pcall's error table returned as the reply",
     ["EVAL", "return redis.pcall('LPUSH', KEYS[1], 'x')", 1, "str"]),
    ("error_reply", "return redis.error_reply('MYERR msg')",
     ["EVAL", "return redis.error_reply('MYERR msg')", 0]),
    ("error_reply_no_code", "return redis.error_reply('lower case msg')",
     ["EVAL", "return redis.error_reply('lower case msg')", 0]),
    ("return_err_table", "return {err='MYERR x'}",
     ["EVAL", "return {err='MYERR x'}", 0]),
    ("compile_error", "compile error on line 1",
     ["EVAL", "return (", 0]),
    ("compile_error_line3", "compile error on line 3",
     ["EVAL", "local a = 1\nlocal b = 2\nreturn (", 0]),
    ("noscript", "EVALSHA of an unknown SHA1",
     ["EVALSHA", UNKNOWN_SHA, 0]),
    ("noscript_bad_sha", "EVALSHA of something that is not a SHA1",
     ["EVALSHA", "nope", 0]),
    ("script_noscript_fake", "a script returning redis.error_reply('NOSCRIPT fake')",
     ["EVAL", "return redis.error_reply('NOSCRIPT fake')", 0]),
    ("evalsha_ro_write", "EVALSHA_RO of a loaded script that writes",
     ["EVALSHA_RO", hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest(), 1, "k"]),
    ("evalsha_ro_read", "EVALSHA_RO of a loaded read-only script (6.2: unknown command)",
     ["EVALSHA_RO", hashlib.sha1(READ_SCRIPT.encode()).hexdigest(), 1, "str"]),
    ("eval_ro_write", "EVAL_RO of a script that writes",
     ["EVAL_RO", WRITE_SCRIPT, 1, "k"]),
    ("flags_no_writes_read", "#!lua flags=no-writes script that only reads",
     ["EVAL", "#!lua flags=no-writes\n" + READ_SCRIPT, 1, "str"]),
    ("flags_no_writes_write", "#!lua flags=no-writes script that writes, on line 2",
     ["EVAL", "#!lua flags=no-writes\n" + WRITE_SCRIPT, 1, "k"]),
    ("flags_unknown_flag", "#!lua flags=no-such-flag",
     ["EVAL", "#!lua flags=no-such-flag\nreturn 1", 0]),
    ("function_load", "FUNCTION LOAD of a library (6.2: unknown command)",
     ["FUNCTION", "LOAD", LIBRARY]),
    ("fcall_missing", "FCALL of a function that does not exist",
     ["FCALL", "no_such_function", 0]),
    ("fcall_runtime_error", "FCALL of a function failing on library line 3",
     ["FCALL", "fails", 0]),
    ("fcall_ro_write", "FCALL_RO of a function without the no-writes flag",
     ["FCALL_RO", "writes", 1, "k"]),
]


def escape(text):
    return (text.replace("\\", "\\\\").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))


def render(reply):
    if isinstance(reply, matrix.ErrorReply):
        return "-" + reply
    if isinstance(reply, matrix.Status):
        return "+" + reply
    if reply is None:
        return "$nil"
    if isinstance(reply, int):
        return ":%d" % reply
    if isinstance(reply, list):
        return "*" + json.dumps([render(r) for r in reply])
    return "$" + reply


def busy_cases(port):
    """BUSY seen by a second connection while a script loops, then the
    SCRIPT KILL reply and what the killed script's caller gets."""
    runner = matrix.Conn(port)
    other = matrix.Conn(port)
    runner.send("EVAL", LONG_SCRIPT, 0)
    # The server answers BUSY only once the script ran longer than
    # busy-reply-threshold (set to 100 ms below).
    time.sleep(0.4)
    busy = other.call("PING")
    busy_evalsha = other.call("EVALSHA", UNKNOWN_SHA, 0)
    kill = other.call("SCRIPT", "KILL")
    killed = runner.read()
    notbusy = other.call("SCRIPT", "KILL")
    runner.close()
    other.close()
    return [
        ("busy", "PING from another connection while a script loops", busy),
        ("busy_evalsha", "EVALSHA from another connection while a script loops", busy_evalsha),
        ("script_kill", "SCRIPT KILL of the looping script", kill),
        ("script_killed", "the reply the killed script's caller gets", killed),
        ("script_kill_notbusy", "SCRIPT KILL when no script runs", notbusy),
    ]


def record(binary):
    with matrix.server(binary, "--lua-time-limit", "100") as port:
        conn = matrix.Conn(port)
        ident = matrix.server_id(conn)
        conn.call("SET", "str", "a string")
        for script in ["local a = 1\nlocal b = 2\nlocal x = nil + 1", WRITE_SCRIPT, READ_SCRIPT]:
            conn.call("SCRIPT", "LOAD", script)
        rows = [(name, desc, conn.call(*cmd)) for name, desc, cmd in CASES]
        conn.close()
        rows += busy_cases(port)
    return ident, rows


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, binary in matrix.matrix():
        ident, rows = record(binary)
        path = os.path.join(OUT, ident + ".txt")
        with open(path, "w") as f:
            f.write("# Replies of %s (%s in tools/servers.sh), recorded by\n" % (ident, name))
            f.write("# `python3 tools/record_replies.py`; do not edit by hand. Format: see that script.\n")
            for case, desc, reply in rows:
                f.write("# %s\n%s\t%s\n" % (desc, case, escape(render(reply))))
        print("wrote %d replies to %s" % (len(rows), os.path.relpath(path, matrix.ROOT)))


if __name__ == "__main__":
    main()

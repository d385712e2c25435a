#!/usr/bin/env python3
"""Regenerates script/src/redis_commands.rs from a real Redis server.

Usage: python3 script/tools/gen_redis_commands.py [path/to/redis-server] [port]

Starts a throw-away redis-server (no persistence) on `port` (default 7398),
reads `COMMAND`, probes which commands a `#!lua flags=no-writes` script may not
call, writes the table and shuts the server down. Needs only the standard library.

A command counts as writing when COMMAND lists the `write` flag, or when a
no-writes script calling it gets "Write commands are not allowed from read-only
scripts" (Redis also refuses may-replicate commands such as PUBLISH and PFCOUNT,
which COMMAND does not flag). Only commands without `write`/`noscript` are
probed, with dummy arguments, on the throw-away server.
"""
import os
import socket
import subprocess
import sys
import time

SERVER = sys.argv[1] if len(sys.argv) > 1 else "redis-server"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 7398
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "redis_commands.rs")
READ_ONLY_ERR = "Write commands are not allowed from read-only scripts"


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("unexpected reply %r" % line)

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self.read()


def entries(cmds):
    """Yields (name, flags, (first, last, step), arity, has_subcommands) for commands and subcommands."""
    for c in cmds:
        subs = c[9] if len(c) > 9 and c[9] else []
        yield c[0].lower(), c[2], (c[3], c[4], c[5]), c[1], bool(subs)
        for s in subs:
            yield s[0].lower(), s[2], (s[3], s[4], s[5]), s[1], False


def probe(conn, name, arity):
    argv = name.split("|")
    need = abs(arity)
    while len(argv) < need:
        argv.append("redlua-probe")
    script = "#!lua flags=no-writes\nreturn redis.pcall(unpack(ARGV))"
    reply = conn.call("EVAL", script, 0, *argv)
    return isinstance(reply, RuntimeError) and READ_ONLY_ERR in str(reply)


def main():
    proc = subprocess.Popen(
        [SERVER, "--port", str(PORT), "--save", "", "--appendonly", "no",
         "--bind", "127.0.0.1", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn = None
        for _ in range(100):
            try:
                conn = Conn(PORT)
                break
            except OSError:
                time.sleep(0.05)
        if conn is None:
            sys.exit("redis-server did not start on port %d" % PORT)
        info = conn.call("INFO", "server")
        version = next(l.split(":", 1)[1] for l in info.splitlines() if l.startswith("redis_version:"))
        rows = []
        for name, flags, keys, arity, container in entries(conn.call("COMMAND")):
            is_write = "write" in flags
            if not is_write and not container and "noscript" not in flags:
                is_write = probe(conn, name, arity)
            rows.append((name, is_write) + keys)
        rows.sort()
        conn.sock.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")  # no reply: the server exits
    finally:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()

    with open(OUT, "w") as f:
        f.write("//! Redis command table for lua_check.rs.\n//!\n")
        invocation = " ".join(["python3", "script/tools/gen_redis_commands.py"] + sys.argv[1:])
        f.write("//! generated from COMMAND on redis %s by `%s`\n" % (version, invocation))
        f.write("//! (do not edit by hand; re-run the script against another server to refresh it).\n//!\n")
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

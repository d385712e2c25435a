"""Shared by tools/record_replies.py and tools/gen_dialect.py: the servers of
the test matrix (from tools/servers.sh), a throw-away server process and a
minimal RESP2 client. Standard library only.
"""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)


class ErrorReply(str):
    """An error reply (`-CODE message`), as its text without the `-`."""


class Status(str):
    """A status reply (`+OK`), as its text without the `+`."""


class Conn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Status(rest.decode())
        if kind == b"-":
            return ErrorReply(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("unexpected reply %r" % line)

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def call(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        self.sock.close()


def matrix():
    """[(name, binary)] of every server of the matrix, fetched by tools/servers.sh."""
    out = subprocess.run([os.path.join(TOOLS, "servers.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return [tuple(line.split(" ", 1)) for line in out.splitlines() if line.strip()]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def info_field(info, field):
    for line in info.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def server_id(conn):
    """`redis-7.0.15` / `valkey-9.1.2`, from INFO server (Valkey also says
    redis_version:7.2.4, so valkey_version goes first)."""
    info = conn.call("INFO", "server")
    valkey = info_field(info, "valkey_version")
    if valkey:
        return "valkey-" + valkey
    return "redis-" + info_field(info, "redis_version")


@contextlib.contextmanager
def server(binary, *extra):
    """Runs `binary` on a free port with no persistence; yields the port."""
    tmp = tempfile.mkdtemp(prefix="redlua-matrix-")
    port = free_port()
    log = open(os.path.join(tmp, "server.log"), "w")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--dir", tmp] + list(extra),
        stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            if proc.poll() is not None:
                sys.exit("%s exited during startup:\n%s" % (binary, open(log.name).read()))
            try:
                c = Conn(port)
                c.call("PING")
                c.close()
                break
            except OSError:
                time.sleep(0.025)
        else:
            sys.exit("%s did not answer PING on port %d" % (binary, port))
        yield port
    finally:
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

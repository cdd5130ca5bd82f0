#!/usr/bin/env python3
"""Send one HMP command to a QEMU monitor unix socket and print its answer.

usage: monitor.py SOCKET COMMAND...
Exit 0 when the command was sent and the monitor answered with a prompt,
1 otherwise. Bounded: every socket operation times out after 10 s.
"""
import socket
import sys

PROMPT = b"(qemu) "


def read_prompt(sock):
    buf = b""
    while not buf.endswith(PROMPT):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("monitor closed the connection")
        buf += chunk
    return buf[: -len(PROMPT)]


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, cmd = sys.argv[1], " ".join(sys.argv[2:])
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(path)
            read_prompt(sock)                   # banner + first prompt
            sock.sendall(cmd.encode() + b"\n")
            out = read_prompt(sock).decode(errors="replace")
    except (OSError, ConnectionError) as err:
        print(f"monitor {path}: {err}", file=sys.stderr)
        return 1
    # The monitor echoes the command line (with terminal escapes) first.
    lines = [l.strip() for l in out.replace("\r", "\n").split("\n")]
    answer = [l for l in lines if l and cmd not in l and "\x1b" not in l]
    if answer:
        print("\n".join(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())

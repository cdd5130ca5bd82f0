#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Call any JSON-RPC method of a running tern-tgt (standard library only).

Examples:
  tern-rpc.py framework_get_reactors
  tern-rpc.py -s /var/tmp/tern.sock rpc_get_methods --current true
  tern-rpc.py bdev_malloc_create --name Malloc0 --num_blocks 32768 --block_size 512
  tern-rpc.py nvmf_create_subsystem -j '{"nqn": "nqn.2016-06.io.spdk:cnode1"}'
  echo '{"current": true}' | tern-rpc.py rpc_get_methods -j -

Parameters come as `--name value` (or `--name=value`) after the method, or as
a JSON object with -j (merged, options win). A value that reads as a JSON
number, true, false, null, object or array is sent as that; anything else,
and numbers with leading zeros, as a string. Quote to force a string:
--serial_number '"0001"'. Dashes in names become underscores.

The result is printed as JSON. A JSON-RPC error is printed to stderr and
the exit status is 1; a connection problem exits 2.
"""
import argparse
import json
import re
import socket
import sys

DEFAULT_SOCKET = "/var/tmp/tern.sock"
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")


def typed(text):
    """Turn a command-line value into the JSON value it most plausibly means."""
    t = text.strip()
    if t in ("true", "false", "null") or _NUMBER.match(t) or t[:1] in ("{", "[", '"'):
        try:
            return json.loads(t)
        except ValueError:
            pass
    return text


def parse_params(rest):
    params = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if not arg.startswith("--") or arg == "--":
            raise SystemExit("tern-rpc.py: expected --name value, got %r" % arg)
        name = arg[2:]
        if "=" in name:
            name, value = name.split("=", 1)
            i += 1
        elif i + 1 < len(rest) and not (rest[i + 1].startswith("--") and len(rest[i + 1]) > 2):
            value = rest[i + 1]
            i += 2
        else:
            value = "true"   # a bare --flag
            i += 1
        params[name.replace("-", "_")] = typed(value)
    return params


class Client:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def call(self, method, params=None):
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        self.next_id += 1
        if params:
            req["params"] = params
        self.sock.sendall(json.dumps(req).encode())
        dec = json.JSONDecoder()
        while True:
            text = self.buf.decode("utf-8", "replace").lstrip()
            if text:
                try:
                    resp, end = dec.raw_decode(text)
                    self.buf = text[end:].encode()
                    return resp
                except ValueError:
                    pass
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the target closed the connection")
            self.buf += chunk

    def close(self):
        self.sock.close()


def main(argv):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-s", "--socket", default=DEFAULT_SOCKET,
                    help="tern-tgt's RPC socket (default %(default)s)")
    ap.add_argument("-t", "--timeout", type=float, default=60.0,
                    help="seconds to wait for the answer (default %(default)s)")
    ap.add_argument("-j", "--json", metavar="OBJECT",
                    help="parameters as a JSON object, or - to read them from stdin")
    ap.add_argument("-r", "--raw", action="store_true",
                    help="print the whole JSON-RPC response")
    ap.add_argument("method")
    args, rest = ap.parse_known_args(argv)

    params = {}
    if args.json is not None:
        text = sys.stdin.read() if args.json == "-" else args.json
        try:
            params = json.loads(text)
        except ValueError as e:
            print("tern-rpc.py: -j is not valid JSON: %s" % e, file=sys.stderr)
            return 2
        if not isinstance(params, dict):
            print("tern-rpc.py: -j must be a JSON object", file=sys.stderr)
            return 2
    params.update(parse_params(rest))

    try:
        c = Client(args.socket, args.timeout)
        resp = c.call(args.method, params)
        c.close()
    except (OSError, ConnectionError) as e:
        print("tern-rpc.py: cannot talk to %s: %s" % (args.socket, e), file=sys.stderr)
        return 2
    if args.raw:
        print(json.dumps(resp, indent=2))
    if "error" in resp:
        err = resp["error"]
        print("tern-rpc.py: %s: error %s: %s" % (args.method, err.get("code"), err.get("message")),
              file=sys.stderr)
        return 1
    if not args.raw:
        print(json.dumps(resp.get("result"), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

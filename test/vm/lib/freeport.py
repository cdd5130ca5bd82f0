#!/usr/bin/env python3
"""Print N (default 2) distinct UDP ports on 127.0.0.1 that are free right now.

The kernel picks them (bind to port 0). Another process could take one before
QEMU binds it; QEMU then exits at once and run.sh retries with new ports.
"""
import socket
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
socks = []
try:
    for _ in range(n):          # hold all open so the kernel gives distinct ports
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
finally:
    for s in socks:
        s.close()

#!/usr/bin/env python3
"""Print a TCP port on 127.0.0.1 that is free right now (the kernel picks it).

Another process could take it before QEMU binds it; QEMU then exits at once
and run.sh retries with a new port.
"""
import socket

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])

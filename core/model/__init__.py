"""The pure model: plain logic and data, no IO, no threads, no clock reads.

Everything here is decided by calling it with values; the daemon's runtime
(:mod:`core.daemon.process`) and the clients carry its answers to files, pins and sockets.
"""

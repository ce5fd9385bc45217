"""The daemon's runtime: its process, socket server, run controller, timing engine
and the disk outlook. Threads, files and sockets live here; the decisions they
carry out are in :mod:`core.model`. Only this package writes the journal.
"""

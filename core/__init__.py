"""lapse's core: the pure model (``core.model``), the daemon's runtime (``core.daemon``)
and what the daemon and its clients share (clock, client, journal reader, config file).

Standard library only (docs/architecture.md §2): importing ``core`` never loads textual,
gpiozero or gphoto2.
"""

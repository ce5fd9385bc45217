"""lapse's pure model: time, settings, plans, scheduling, journal and protocol.

Standard library only (DESIGN.md §2): importing ``core`` never loads textual,
gpiozero or gphoto2.
"""

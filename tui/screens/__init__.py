"""The TUI's screens: main, settings, log and help."""

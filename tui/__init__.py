"""lapse's user interfaces: the ``lapse`` command line (the composition root) and the TUI."""

"""After the run: the time-lapse video, the keogram and the star-trail image of a run's
frames (docs/architecture.md §12). PyAV, numpy and Pillow are imported by the functions
that use them, so importing ``core`` still loads the standard library only, and the
daemon never loads them: it runs this work in a process of its own (``lapse after``).
"""

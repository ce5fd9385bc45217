"""Real and simulated hardware behind :class:`core.model.rig.Rig`.

gpiozero outputs (on real pins or on gpiozero's ``MockFactory`` pins for the
simulated rig), and later the gphoto2 camera, battery readers and GPIO inputs.
``core`` never imports this package; the command line's composition root does
(through :func:`hw.select.build_rig`).
"""

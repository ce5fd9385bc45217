"""Textual themes for lapse's TUI: default, night-vision and console."""

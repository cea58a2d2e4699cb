"""Deconflict: open, multi-party de-confliction of shared airspace."""

__version__ = "0.1.0"

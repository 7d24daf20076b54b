"""ivrd: a declarative IVR daemon for FreeSWITCH."""

__version__ = "0.1.0"

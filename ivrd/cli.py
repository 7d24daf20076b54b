"""The `ivrd` command line. Each command is a few lines over one library call."""

from __future__ import annotations

import click

from ivrd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ivrd")
def main() -> None:
    """ivrd: run IVR call flows written in YAML on FreeSWITCH."""

"""A person's first sign-in without a browser, for CLI tests whose steps authenticate
the person (four-eyes registry steps): the demo's own scripted path."""

from __future__ import annotations

from lineguard.cli.demo_setup import first_sign_in

__all__ = ["first_sign_in"]

"""Deployment packages for the world's Lambda: one whose ``bootstrap`` runs a host build.

A sandbox runs the ``bootstrap`` of its function's deployment package, as the ``provided``
runtimes do (Lambda Developer Guide: "Custom runtimes"; ``Pool.executable``).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def launcher(binary: Path) -> bytes:
    """A deployment package whose ``bootstrap`` runs ``binary``: how a stack deployed in the world
    gets the host build of a crate whose Lambda package (arm64, as the template deploys it)
    cannot run here. ``exec`` keeps the process the sandbox's, as the real bootstrap would be."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as package:
        entry = zipfile.ZipInfo("bootstrap")
        entry.external_attr = 0o100755 << 16
        package.writestr(entry, f"#!/bin/sh\nexec '{binary}' \"$@\"\n")
    return buf.getvalue()

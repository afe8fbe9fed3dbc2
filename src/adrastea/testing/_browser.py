"""How tests and benchmarks start the system's headless Chromium."""

from __future__ import annotations

#: Arguments for ``chromium.launch(executable_path=..., args=CHROMIUM_ARGS)``.  The
#: background-networking flags matter: on a machine without internet Chromium's
#: own connections would otherwise be refused by the dozen at every start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

"""Where the bundled files are: the two small models, the example songs, the page's CSS and figures.

In a checkout they are the top-level ``assets/`` folder beside ``vae/``. An installed wheel carries the same files
as package data of ``vae.assets`` (``pyproject.toml`` maps that subpackage onto ``assets/``), i.e. a folder
``assets`` inside the installed ``vae`` package, found here through :mod:`importlib.resources`. One resolver, so
that the CLI, the app and the library read the same files wherever the code runs from.

    asset("model")            # the default (regularised) model folder
    asset("examples")         # the example songs
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

ASSETS = "assets"  # the folder's name, in the checkout and inside the installed package


def assets_dir() -> Path:
    """The folder of the bundled files: ``vae/assets`` of an installed wheel, else the checkout's ``assets/``.

    Where neither exists (a wheel built without its package data), the installed place is returned all the same,
    and whoever reads a file there says what is missing (e.g. :func:`vae.hub.load_model`: "there are no bundled
    weights in ..."): importing the library never fails for want of the bundled files.
    """
    installed = resources.files("vae") / ASSETS
    if installed.is_dir():  # a plain folder: pip installs wheels onto the file system
        return Path(str(installed))
    checkout = Path(__file__).resolve().parents[1] / ASSETS
    return checkout if checkout.is_dir() else Path(str(installed))


def asset(name: str) -> Path:
    """A file or folder of the bundled files by its path relative to them, e.g. ``"model"`` or ``"app.css"``;
    it need not exist (its reader says what is missing)."""
    return assets_dir() / name

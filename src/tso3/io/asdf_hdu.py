"""The ASDF extension of a FITS product, written without the asdf library.

jwst ends every FITS product with an ``ASDF`` extension (a one-cell table holding an
ASDF file), and readers rely on it: specutils recognises a JWST file by it, chromatic
takes the last extension of an x1dints as the ASDF one.  tso3 writes everything a model
holds as FITS keywords and tables, which stdatamodels reads back into the same model, so
its ASDF tree holds only the library that wrote it: a few hundred bytes of YAML, and no
asdf/schema start-up on the hot path.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

#: Extension name and column jwst (stdatamodels) uses for the ASDF tree.
ASDF_EXTNAME = "ASDF"
ASDF_COLUMN = "ASDF_METADATA"


def asdf_text(version: str) -> str:
    """A complete ASDF 1.0.0 file (ASDF standard 1.5.0) naming tso3 ``version``."""
    return (
        "#ASDF 1.0.0\n"
        "#ASDF_STANDARD 1.5.0\n"
        "%YAML 1.1\n"
        "%TAG ! tag:stsci.edu:asdf/\n"
        "--- !core/asdf-1.1.0\n"
        "asdf_library: !core/software-1.0.0 {author: tso3 developers, "
        f"homepage: 'https://pypi.org/project/tso3/', name: tso3, version: '{version}'}}\n"
        "...\n"
    )


def asdf_hdu(version: str) -> fits.BinTableHDU:
    """The ``ASDF`` extension, to be the last HDU of a product."""
    raw = np.frombuffer(asdf_text(version).encode("ascii"), dtype=np.uint8)
    column = fits.Column(name=ASDF_COLUMN, format=f"{raw.size}B", array=raw[None, :])
    return fits.BinTableHDU.from_columns([column], name=ASDF_EXTNAME)

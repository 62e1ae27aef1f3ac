"""Only the compiled extensions live here; everything else about the package is in pyproject.toml.

Both are built when a C compiler is there. Without one the build still succeeds (optional) and each falls back
to pure Python with the same results:
- the MEXC push reader (libs/arb/venues/mexc/_wire.pyx): ``arb.venues.mexc.wire`` falls back to upb;
- the L2 book's level updates (libs/arb/venues/common/_book.pyx): ``arb.venues.common.book`` falls back to
  its Python loop.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("arb.venues.mexc._wire", ["libs/arb/venues/mexc/_wire.pyx"], optional=True),
        Extension("arb.venues.common._book", ["libs/arb/venues/common/_book.pyx"], optional=True),
        Extension("arb.venues.gateio._wire", ["libs/arb/venues/gateio/_wire.pyx"], optional=True),
    ]
)

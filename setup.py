"""Only the compiled extension lives here; everything else about the package is in pyproject.toml.

The MEXC push reader (libs/arb/venues/mexc/_wire.pyx) is built when a C compiler is there. Without one the
build still succeeds (optional) and ``arb.venues.mexc.wire`` falls back to upb with the same results.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("arb.venues.mexc._wire", ["libs/arb/venues/mexc/_wire.pyx"], optional=True)])

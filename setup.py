"""Build hook for tso3's one compiled kernel (everything else is in pyproject.toml).

``tso3/steps/_movmed_kernel.c`` is plain C loaded through ctypes, so it needs no
Python or numpy headers.  It is optional: where no C compiler is available the build
goes on without it and tso3 uses bottleneck's moving median (same results, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tso3.steps._movmed_kernel",
            sources=["src/tso3/steps/_movmed_kernel.c"],
            optional=True,
        )
    ]
)

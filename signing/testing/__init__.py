"""Test and demo infrastructure for :mod:`signing`, NOT FOR PRODUCTION.

- :mod:`signing.testing.pki`: a PKI shaped like Kazakhstan's NCA (root → issuing CA → officers) built as a
  certomancer configuration, with the officers' PKCS#12 files (:class:`~signing.testing.pki.Officer`);
- :mod:`signing.testing.tsa_server`: a small, fast RFC 3161 timestamp server (``python -m
  signing.testing.tsa_server``).

The production library (:mod:`signing`) never imports this package; the tests, the benchmarks and the demo
(``pipeline/demo.py``) do.  It is the one place under ``signing/`` allowed to import :mod:`pipeline.core.iin`
(the IIN's check digit, for the demo officers' IINs).
"""

from .pki import DemoPKI, Officer, build_pki, create_demo_pki

__all__ = ["DemoPKI", "Officer", "build_pki", "create_demo_pki"]

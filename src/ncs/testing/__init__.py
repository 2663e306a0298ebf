"""Helpers for testing code that feeds ncs: hypothesis strategies in :mod:`ncs.testing.strategies`
(needs ``hypothesis``, part of ``ncs-edx[test]``)."""

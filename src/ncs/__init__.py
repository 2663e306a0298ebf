"""ncs: conduction block, temporal dispersion and demyelination criteria for motor NCS.

The everyday names are here; see the user guide for the tidy input format.
"""

from ncs import normative
from ncs._version import __version__
from ncs.analyze import Analysis, analyze, classify
from ncs.compare import Comparison, compare
from ncs.criteria import Citation, Criterion, Scope, SegmentRule, Threshold
from ncs.errors import NcsWarning, UnknownCriteriaError, ValidationError
from ncs.followup import FollowUp, followup
from ncs.io import read_sites
from ncs.measures import percent_change, percent_drop
from ncs.registry import (
    CRITERIA,
    DEFAULT_CRITERIA,
    get_criteria,
    list_criteria,
    with_entrapment_sites,
    with_options,
)
from ncs.schema import normalize_units, validate
from ncs.schemes import NerveItem
from ncs.segments import segments

__all__ = [
    "CRITERIA",
    "DEFAULT_CRITERIA",
    "Analysis",
    "Citation",
    "Comparison",
    "Criterion",
    "FollowUp",
    "NcsWarning",
    "NerveItem",
    "Scope",
    "SegmentRule",
    "Threshold",
    "UnknownCriteriaError",
    "ValidationError",
    "__version__",
    "analyze",
    "classify",
    "compare",
    "followup",
    "get_criteria",
    "list_criteria",
    "normalize_units",
    "normative",
    "percent_change",
    "percent_drop",
    "read_sites",
    "segments",
    "validate",
    "with_entrapment_sites",
    "with_options",
]

"""The scoring core over columns: every formula of DOMAIN.md for a batch of accounts at once.

Pure numpy, no I/O. :func:`score_batch` takes the per-account aggregates one SQL statement
returns (:class:`AccountColumns`), the tenant's model prepared once (:class:`ColumnarModel`)
and the tenant's distributions (or ranks within the batch), and gives every score with its
factor contributions (:class:`ScoreColumns`). The numbers are the scalar code's (domain/*.py)
to the last bit: the property test in tests/unit/test_columnar_equivalence.py holds it to that.
"""

from accountpulse.scoring.domain.columnar.batch import PredictiveInputs, ScoreColumns, score_batch
from accountpulse.scoring.domain.columnar.columns import (
    AccountColumns,
    Categorical,
    ContractColumns,
    EngagementColumns,
    NpsColumns,
    ProfileColumns,
    RevenueColumns,
    Tags,
)
from accountpulse.scoring.domain.columnar.combine import ScoreColumn
from accountpulse.scoring.domain.columnar.materiality import Published, material_flags, reasons_of
from accountpulse.scoring.domain.columnar.model import ColumnarModel
from accountpulse.scoring.domain.columnar.tiers import KeyDecision, KeyInputs, decide_key_set

__all__ = [
    "AccountColumns",
    "Categorical",
    "ColumnarModel",
    "ContractColumns",
    "EngagementColumns",
    "KeyDecision",
    "KeyInputs",
    "NpsColumns",
    "PredictiveInputs",
    "ProfileColumns",
    "Published",
    "RevenueColumns",
    "ScoreColumn",
    "ScoreColumns",
    "Tags",
    "decide_key_set",
    "material_flags",
    "reasons_of",
    "score_batch",
]

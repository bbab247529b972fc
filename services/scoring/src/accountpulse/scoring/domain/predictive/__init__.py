"""Predictive CLV models, fitted by maximum likelihood and vectorised over customers.

- `bgnbd`: BG/NBD — is a customer still alive, how many purchases will it make (non-contractual);
- `gamma_gamma`: Gamma-Gamma — the value per purchase;
- `clv`: the two combined into a (discounted) CLV over a horizon;
- `sbg`: sBG — retention and discounted residual lifetime of contract customers;
- `calibration`: expected vs actual purchases in a holdout period;
- `history`: a purchase log turned into the models' inputs.

Time is in weeks for BG/NBD and in contract periods for sBG.
"""

from accountpulse.scoring.domain.predictive.bgnbd import (
    BgNbdParams,
    expected_purchases,
    expected_purchases_unconditional,
    fit_bgnbd,
    p_alive,
)
from accountpulse.scoring.domain.predictive.calibration import (
    CalibrationRow,
    CalibrationTable,
    calibration_table,
)
from accountpulse.scoring.domain.predictive.clv import (
    PredictiveClv,
    discounted_expected_purchases,
    predictive_clv,
    predictive_clv_12m,
)
from accountpulse.scoring.domain.predictive.estimation import FitDidNotConverge, InsufficientHistory
from accountpulse.scoring.domain.predictive.gamma_gamma import (
    GammaGammaParams,
    expected_purchase_value,
    fit_gamma_gamma,
    frequency_value_correlation,
)
from accountpulse.scoring.domain.predictive.history import PurchaseHistory, purchase_history
from accountpulse.scoring.domain.predictive.sbg import (
    SbgParams,
    discounted_expected_residual_lifetime,
    fit_sbg_counts,
    fit_sbg_survival,
    sbg_retention,
    sbg_survival,
)

__all__ = [
    "BgNbdParams",
    "CalibrationRow",
    "CalibrationTable",
    "FitDidNotConverge",
    "GammaGammaParams",
    "InsufficientHistory",
    "PredictiveClv",
    "PurchaseHistory",
    "SbgParams",
    "calibration_table",
    "discounted_expected_purchases",
    "discounted_expected_residual_lifetime",
    "expected_purchase_value",
    "expected_purchases",
    "expected_purchases_unconditional",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_sbg_counts",
    "fit_sbg_survival",
    "frequency_value_correlation",
    "p_alive",
    "predictive_clv",
    "predictive_clv_12m",
    "purchase_history",
    "sbg_retention",
    "sbg_survival",
]

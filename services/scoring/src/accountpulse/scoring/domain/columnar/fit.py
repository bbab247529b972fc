"""ICP fit over columns: size band, industry, region (or country), pain points matching the
tenant's offer — each compared casefolded, once per distinct value."""

from __future__ import annotations

import numpy as np

from accountpulse.scoring.domain.columnar.columns import (
    BoolArray,
    Categorical,
    FloatArray,
    ProfileColumns,
    Tags,
)
from accountpulse.scoring.domain.columnar.combine import ScoreColumn, combine
from accountpulse.scoring.domain.columnar.model import ColumnarModel

SIZE_BANDS = ("small", "mid", "large", "enterprise")
SIZE_BAND_FLOORS = (50, 250, 1000)  # employees at which mid, large and enterprise begin


def fit_score(profile: ProfileColumns, model: ColumnarModel) -> ScoreColumn:
    icp = model.icp
    return combine(
        model.weights["fit"],
        [
            _target_score(*size_band_hits(profile, icp.size_bands), icp.size_bands),
            _target_score(*_hits(profile.industry, icp.industries), icp.industries),
            _target_score(*region_hits(profile, icp.regions), icp.regions),
            pain_point_score(profile.pain_points, icp.pain_points),
        ],
    )


def _target_score(known: BoolArray, hit: BoolArray, targets: frozenset[str]) -> FloatArray:
    """100 in the targets, 0 not, NaN unknown or without targets."""
    if not targets:
        return np.full(len(known), np.nan)
    result: FloatArray = np.where(known, np.where(hit, 100.0, 0.0), np.nan)
    return result


def _hits(column: Categorical, targets: frozenset[str]) -> tuple[BoolArray, BoolArray]:
    """Where the value is known (not None, but "" counts), and where it is a target."""
    hit = np.asarray([c.casefold() in targets for c in column.categories], dtype=bool)
    return column.codes >= 0, column.lookup(hit, False)


def size_band_hits(profile: ProfileColumns, targets: frozenset[str]) -> tuple[BoolArray, BoolArray]:
    """The stated revenue band, else the band of the employee count."""
    stated = profile.annual_revenue_band.truthy()
    _, stated_hit = _hits(profile.annual_revenue_band, targets)
    employees = profile.employees
    band = np.searchsorted(np.asarray(SIZE_BAND_FLOORS, float), np.nan_to_num(employees), "right")
    band_hit = np.asarray([b.casefold() in targets for b in SIZE_BANDS], dtype=bool)[band]
    known = stated | ~np.isnan(employees)
    hit = np.where(stated, stated_hit, band_hit)
    return known, hit


def region_hits(profile: ProfileColumns, targets: frozenset[str]) -> tuple[BoolArray, BoolArray]:
    """The region, else the country; when both are given, either may be the target."""
    region, country = profile.region, profile.country
    has_region = region.truthy()
    _, region_hit = _hits(region, targets)
    country_known, country_hit = _hits(country, targets)
    both = has_region & country.truthy()
    hit = np.where(has_region, region_hit | (both & country_hit), country_hit)
    return has_region | country_known, hit


def pain_point_score(stated: Tags, offer: frozenset[str]) -> FloatArray:
    """Share of the stated pain points (0–100) the tenant's offer addresses."""
    counts = stated.counts()
    if not offer:
        return np.full(len(counts), np.nan)
    matched = stated.count_where(
        np.asarray([c.casefold() in offer for c in stated.categories], dtype=bool)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 100.0 * matched / counts
    result: FloatArray = np.where(counts == 0, np.nan, share)
    return result

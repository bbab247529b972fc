"""Maximum likelihood shared by the predictive models: errors, array checks, one optimiser.

Every model is fitted on the logarithm of its parameters (all are positive), by BFGS with the
analytic gradient of the mean log-likelihood per customer: the mean keeps the gradient tolerance
meaningful whether a tenant has a hundred accounts or a hundred thousand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

FloatArray = npt.NDArray[np.float64]
# (log-parameters) -> (negative mean log-likelihood, its gradient in the log-parameters)
Objective = Callable[[FloatArray], tuple[float, FloatArray]]

# BFGS may stop on "precision loss" at the optimum of a flat likelihood: a gradient this small
# (per customer, in log-parameters) is converged whatever the optimiser's status says.
_CONVERGED_GRADIENT = 1e-5
# A parameter driven below 1e-6 or above 1e6 is the likelihood's supremum at the edge of the
# parameter space (no dropout ever seen, identical values, ...): a flat gradient there is not an
# estimate. Scale-carrying parameters are fitted on rescaled data so that real ones stay inside.
_EDGE_OF_PARAMETER_SPACE = float(np.log(1e6))


class InsufficientHistory(ValueError):
    """Too little data to identify the model's parameters."""


class FitDidNotConverge(RuntimeError):
    """The likelihood could not be maximised (the data do not pin the parameters down)."""


@dataclass(frozen=True)
class Optimum:
    parameters: FloatArray
    mean_log_likelihood: float
    converged: bool
    message: str


def maximise_log_likelihood(objective: Objective, start: FloatArray) -> Optimum:
    """Maximise a mean log-likelihood over log-parameters, starting from natural parameters."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        result = minimize(
            objective,
            np.log(start),
            jac=True,
            method="BFGS",
            options={"gtol": 1e-8, "maxiter": 1000},
        )
        log_parameters = np.asarray(result.x, dtype=np.float64)
        value, gradient = objective(log_parameters)
    finite = bool(np.isfinite(value) and np.all(np.isfinite(gradient)))
    small_gradient = finite and float(np.max(np.abs(gradient))) < _CONVERGED_GRADIENT
    at_edge = bool(np.any(np.abs(log_parameters) > _EDGE_OF_PARAMETER_SPACE))
    return Optimum(
        parameters=np.exp(log_parameters),
        mean_log_likelihood=-float(value),
        converged=finite and not at_edge and (bool(result.success) or small_gradient),
        message="a parameter ran off to 0 or infinity" if at_edge else str(result.message),
    )


def raise_unless_converged(optimum: Optimum, model: str, require_convergence: bool) -> None:
    if require_convergence and not optimum.converged:
        raise FitDidNotConverge(
            f"{model}: the likelihood was not maximised ({optimum.message}); "
            f"last parameters {', '.join(f'{value:.4g}' for value in optimum.parameters)}"
        )


def as_float_array(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def check_same_length(**arrays: FloatArray) -> None:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays of different lengths: {lengths}")

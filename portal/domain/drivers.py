"""Key drivers: which levers move the outcome (adoption) in this organisation.

Levers are correlated with each other, so a regression's coefficients do not
say how much each lever matters. Two established answers split the explained
variance R² among the predictors so that the shares add up to R²: relative
weights (Johnson 2000) and general dominance weights (Budescu 1993; Azen &
Budescu 2003). Both need only the correlation matrix of the outcome and the
levers, which follows from n, the sums and the sums of cross-products over the
respondents who scored every one of them (``statistics.CrossSums``).

Stability: raw data are not kept, so a bootstrap is impossible. Groups'
cross-product sums subtract, so a delete-a-group jackknife (Kott 2001) works
from sums: each weight is recomputed with one department left out, giving a
standard error and how often the top lever stays top. It treats departments as
clusters, so its standard errors include the variation between departments.

Linear algebra is written by hand (Gaussian elimination with partial pivoting,
cyclic Jacobi for the eigen-decomposition) because numpy does not fit the
Lambda package; seven levers are a 7 × 7 matrix and 127 regressions.
Rules and what they mean for an HR reader: ``docs/results.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

from portal.domain.statistics import CrossSums, correlation_matrix

Matrix = Sequence[Sequence[float]]

#: A pivot or eigenvalue below this (on a correlation matrix) means the
#: predictors are collinear: one is a combination of others.
_SINGULAR = 1e-12
#: Dominance analysis fits 2ᵖ − 1 regressions; beyond this many predictors that
#: is too slow for a request (2¹² = 4,096 fits), and relative weights serve instead.
MAX_DOMINANCE_PREDICTORS = 12
_JACOBI_SWEEPS = 100


def _solve(matrix: Matrix, rhs: Sequence[float]) -> list[float] | None:
    # Gaussian elimination with partial pivoting; None for a (near-)singular matrix.
    n = len(rhs)
    rows = [[*matrix[i], rhs[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) < _SINGULAR:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, n):
            factor = rows[r][col] / rows[col][col]
            if factor:
                for c in range(col, n + 1):
                    rows[r][c] -= factor * rows[col][c]
    solution = [0.0] * n
    for i in range(n - 1, -1, -1):
        tail = sum(rows[i][c] * solution[c] for c in range(i + 1, n))
        solution[i] = (rows[i][n] - tail) / rows[i][i]
    return solution


def symmetric_eigen(matrix: Matrix) -> tuple[list[float], list[list[float]]]:
    """Return the eigenvalues and eigenvectors (as columns) of a symmetric matrix.

    Rules: cyclic Jacobi rotations (Golub & Van Loan, *Matrix Computations*,
    §8.5) until the off-diagonal part is below 1e-15 of the matrix's norm;
    eigenvalues in no particular order, column j of the second result belonging
    to eigenvalue j.
    """
    n = len(matrix)
    a = [list(map(float, row)) for row in matrix]
    v = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    norm = math.sqrt(sum(x * x for row in a for x in row)) or 1.0
    for _ in range(_JACOBI_SWEEPS):
        off = math.sqrt(sum(a[i][j] ** 2 for i in range(n) for j in range(n) if i != j))
        if off <= 1e-15 * norm:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                if a[p][q] == 0.0:
                    continue
                theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                t = math.copysign(1.0, theta) / (abs(theta) + math.sqrt(theta * theta + 1))
                c = 1 / math.sqrt(t * t + 1)
                s = t * c
                for k in range(n):
                    akp, akq = a[k][p], a[k][q]
                    a[k][p], a[k][q] = c * akp - s * akq, s * akp + c * akq
                for k in range(n):
                    apk, aqk = a[p][k], a[q][k]
                    a[p][k], a[q][k] = c * apk - s * aqk, s * apk + c * aqk
                for k in range(n):
                    vkp, vkq = v[k][p], v[k][q]
                    v[k][p], v[k][q] = c * vkp - s * vkq, s * vkp + c * vkq
    return [a[i][i] for i in range(n)], v


def r_squared(correlations: Matrix, outcome: int, predictors: Sequence[int]) -> float | None:
    """Return R² of the linear regression of ``outcome`` on ``predictors``.

    Rules: R² = r'·R⁻¹·r with R the predictors' correlation matrix and r their
    correlations with the outcome (the normal equations in standardized form);
    0 for no predictors; ``None`` when the predictors are collinear.
    """
    if not predictors:
        return 0.0
    r = [correlations[j][outcome] for j in predictors]
    beta = _solve([[correlations[i][j] for j in predictors] for i in predictors], r)
    return None if beta is None else sum(b * c for b, c in zip(beta, r, strict=True))


@dataclass(frozen=True)
class DriverWeights:
    """R² of the outcome on the predictors and each predictor's share of it.

    ``weights`` add up to ``r2``; ``shares`` are the weights as per cent of R².
    """

    r2: float
    weights: tuple[float, ...]

    @property
    def shares(self) -> tuple[float, ...]:
        """Return each weight as a per cent of R² (all 0 when R² is 0)."""
        return tuple(100 * w / self.r2 if self.r2 > 0 else 0.0 for w in self.weights)


def relative_weights(
    correlations: Matrix, outcome: int, predictors: Sequence[int]
) -> DriverWeights | None:
    """Return Johnson's (2000) relative weights of ``predictors`` on ``outcome``.

    Rules: with R = VDV' the predictors' correlation matrix, Λ = VD^½V' holds
    the correlations of the predictors with their closest orthogonal
    counterparts Z; β = Λ⁻¹r regresses the outcome on Z, and predictor j's
    weight is εⱼ = Σₖ Λⱼₖ²βₖ². The weights are ≥ 0 and add up to R² (Johnson
    2000, *Multivariate Behavioral Research* 35(1); Tonidandel & LeBreton
    2011). ``None`` with no predictors or collinear ones.
    """
    p = len(predictors)
    if p == 0:
        return None
    rxx = [[correlations[i][j] for j in predictors] for i in predictors]
    r = [correlations[j][outcome] for j in predictors]
    values, vectors = symmetric_eigen(rxx)
    if min(values) < _SINGULAR:
        return None
    root = [
        [
            sum(vectors[i][k] * math.sqrt(values[k]) * vectors[j][k] for k in range(p))
            for j in range(p)
        ]
        for i in range(p)
    ]
    # Λ⁻¹ = V D^-½ V', so β = V D^-½ V' r.
    projected = [
        sum(vectors[i][k] * r[i] for i in range(p)) / math.sqrt(values[k]) for k in range(p)
    ]
    beta = [sum(vectors[i][k] * projected[k] for k in range(p)) for i in range(p)]
    weights = tuple(sum(root[j][k] ** 2 * beta[k] ** 2 for k in range(p)) for j in range(p))
    return DriverWeights(sum(weights), weights)


def dominance_weights(
    correlations: Matrix, outcome: int, predictors: Sequence[int]
) -> DriverWeights | None:
    """Return the general dominance weights of ``predictors`` on ``outcome`` (Budescu 1993).

    Rules: for every subset S of the other predictors, the increase in R²
    when predictor j joins S; these are averaged within each subset size, and
    the size averages averaged again (Azen & Budescu 2003). The weights add
    up to the full model's R². All 2ᵖ − 1 regressions are fitted (127 for 7
    levers). ``None`` with no predictors or when any subset is collinear;
    more than ``MAX_DOMINANCE_PREDICTORS`` raise ``ValueError``.
    """
    p = len(predictors)
    if p == 0:
        return None
    if p > MAX_DOMINANCE_PREDICTORS:
        raise ValueError(
            f"Dominance analysis of {p} predictors needs {2**p - 1} regressions; "
            f"use relative_weights above {MAX_DOMINANCE_PREDICTORS}."
        )
    fits: dict[frozenset[int], float] = {frozenset(): 0.0}
    for size in range(1, p + 1):
        for subset in combinations(range(p), size):
            value = r_squared(correlations, outcome, [predictors[i] for i in subset])
            if value is None:
                return None
            fits[frozenset(subset)] = value
    weights = []
    for j in range(p):
        others = [i for i in range(p) if i != j]
        by_size = []
        for size in range(p):
            gains = [
                fits[frozenset(subset) | {j}] - fits[frozenset(subset)]
                for subset in combinations(others, size)
            ]
            by_size.append(sum(gains) / len(gains))
        weights.append(sum(by_size) / p)
    return DriverWeights(fits[frozenset(range(p))], tuple(weights))


Method = Callable[[Matrix, int, Sequence[int]], DriverWeights | None]


@dataclass(frozen=True)
class DriverStability:
    """Weights on all groups with delete-a-group jackknife standard errors.

    ``replicates`` is the number of groups whose removal still left weights
    to compute; ``top_kept`` how many of those kept the same top predictor.
    """

    weights: DriverWeights
    standard_errors: tuple[float, ...]
    replicates: int
    top_kept: int


def driver_stability(
    groups: Sequence[CrossSums],
    outcome: int,
    predictors: Sequence[int],
    method: Method = relative_weights,
    *,
    fixed: CrossSums | None = None,
) -> DriverStability | None:
    """Return key-driver weights over all groups with their jackknife standard errors.

    Rules: weights θ on the sums of all G groups (plus ``fixed``, sums that
    are in every replicate and never left out: groups that may not be looked
    at alone); θ₍ₘ₎ with group m left out (its sums subtracted); se =
    √((G − 1)/G · Σₘ (θ₍ₘ₎ − θ̄)²) (the delete-a-group jackknife, Kott 2001,
    *Journal of Official Statistics* 17(4); Efron & Tibshirani 1993 §11). A
    replicate whose matrix is singular is skipped and G counts only the
    others. ``None`` when the whole fit is impossible or fewer than 3
    replicates remain.
    """
    if not groups:
        return None
    whole = groups[0] if fixed is None else fixed + groups[0]
    for group in groups[1:]:
        whole = whole + group
    full = _weights(whole, outcome, predictors, method)
    if full is None:
        return None
    top = max(range(len(full.weights)), key=lambda j: full.weights[j])
    replicates = []
    for group in groups:
        partial = _weights(whole - group, outcome, predictors, method)
        if partial is not None:
            replicates.append(partial.weights)
    g = len(replicates)
    if g < 3:
        return None
    errors = []
    for j in range(len(predictors)):
        mean = sum(rep[j] for rep in replicates) / g
        errors.append(math.sqrt((g - 1) / g * sum((rep[j] - mean) ** 2 for rep in replicates)))
    kept = sum(1 for rep in replicates if max(range(len(rep)), key=lambda j: rep[j]) == top)
    return DriverStability(full, tuple(errors), g, kept)


def _weights(
    sums: CrossSums, outcome: int, predictors: Sequence[int], method: Method
) -> DriverWeights | None:
    correlations = correlation_matrix(sums)
    return None if correlations is None else method(correlations, outcome, predictors)

"""The two scaling models of `augmath fit`, vectorised over bootstrap replicates.

x = ln N is shared by every replicate, so each design matrix (and its pseudo-inverse) is built once and
applied to all replicate columns of Y (shape points x replicates) at once. That makes the breakpoint grid
search of the segmented model cheap enough to rerun for a thousand replicates in well under a second.

Parameter dicts map names to arrays of shape (replicates,):
    log-linear: a, b, sse                    acc = a + b·x
    segmented:  a, b1, b2, c, sse            acc = a + b1·x + (b2 - b1)·max(0, x - c)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

GRID = 400          # breakpoint candidates; the point estimate is then refined between neighbours
CHUNK = 250         # replicates per batch, to bound memory at (GRID x points x CHUNK) floats


def fit_loglinear(x: np.ndarray, Y: np.ndarray, refine: bool = True) -> dict[str, np.ndarray]:
    X = np.column_stack([np.ones_like(x), x])
    beta = np.linalg.pinv(X) @ Y
    sse = ((Y - X @ beta) ** 2).sum(axis=0)
    return {"a": beta[0], "b": beta[1], "sse": sse}


def breakpoint_range(x: np.ndarray) -> tuple[float, float] | None:
    """The open interval of breakpoints with at least two distinct observed N strictly on each side.

    Strictly: with the breakpoint *at* the second-lowest N, the continuity constraint leaves the left piece one
    free slope for one point, which it always fits exactly; such a "piece" is one point, not a trend.
    """
    distinct = np.unique(x)
    if len(distinct) < 4:
        return None
    return float(distinct[1]), float(distinct[-2])


def _design(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(len(c), points, 3) design matrices [1, x, max(0, x - c)]."""
    hinge = np.maximum(0.0, x[None, :] - c[:, None])
    ones = np.ones_like(hinge)
    return np.stack([ones, np.broadcast_to(x, hinge.shape), hinge], axis=2)


def _sse_at(x: np.ndarray, y: np.ndarray, c: float) -> float:
    X = _design(x, np.array([c]))[0]
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return float(((y - X @ beta) ** 2).sum())


def fit_segmented(x: np.ndarray, Y: np.ndarray, refine: bool = True) -> dict[str, np.ndarray] | None:
    bounds = breakpoint_range(x)
    if bounds is None:
        return None
    lo, hi = bounds
    distinct = np.unique(x)
    inner = np.linspace(lo, hi, GRID + 2)[1:-1]  # open interval: endpoints excluded
    cands = np.unique(np.concatenate([inner, distinct[(distinct > lo) & (distinct < hi)]]))
    X = _design(x, cands)                     # (G, p, 3)
    P = np.linalg.pinv(X)                     # (G, 3, p)
    best_c = np.empty(Y.shape[1])
    for start in range(0, Y.shape[1], CHUNK):
        Yc = Y[:, start:start + CHUNK]
        beta = P @ Yc                         # (G, 3, B)
        sse = ((Yc[None] - X @ beta) ** 2).sum(axis=1)  # (G, B)
        best_c[start:start + CHUNK] = cands[sse.argmin(axis=0)]
    if refine:  # SSE is smooth between grid points; polish each column's breakpoint within its neighbourhood
        for j in range(Y.shape[1]):
            g = int(np.searchsorted(cands, best_c[j]))
            left, right = cands[max(g - 1, 0)], cands[min(g + 1, len(cands) - 1)]
            if right > left:
                res = minimize_scalar(lambda c: _sse_at(x, Y[:, j], c), bounds=(left, right), method="bounded",
                                      options={"xatol": 1e-9})
                if res.fun <= _sse_at(x, Y[:, j], best_c[j]):
                    best_c[j] = res.x
    # Refit at the chosen breakpoints (one small solve per distinct breakpoint).
    out = {k: np.empty(Y.shape[1]) for k in ("a", "b1", "b2", "c", "sse")}
    for c in np.unique(best_c):
        cols = best_c == c
        Xc = _design(x, np.array([c]))[0]
        beta = np.linalg.pinv(Xc) @ Y[:, cols]
        out["a"][cols], out["b1"][cols], out["b2"][cols] = beta[0], beta[1], beta[1] + beta[2]
        out["c"][cols] = c
        out["sse"][cols] = ((Y[:, cols] - Xc @ beta) ** 2).sum(axis=0)
    return out


def predict(params: dict[str, np.ndarray], grid: np.ndarray) -> np.ndarray:
    """Predictions on grid (ln N values): shape (len(grid), replicates)."""
    g = grid[:, None]
    if "b" in params:
        return params["a"][None] + params["b"][None] * g
    return (params["a"][None] + params["b1"][None] * g
            + (params["b2"] - params["b1"])[None] * np.maximum(0.0, g - params["c"][None]))


def solve_target(params: dict[str, np.ndarray], target: float) -> np.ndarray:
    """The smallest x = ln N at which the fitted curve rises to `target`; +inf where it never does."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if "b" in params:
            return np.where(params["b"] > 0, (target - params["a"]) / params["b"], np.inf)
        a, b1, b2, c = params["a"], params["b1"], params["b2"], params["c"]
        x_left = np.where(b1 > 0, (target - a) / b1, np.inf)
        at_c = a + b1 * c
        x_right = np.where(b2 > 0, c + (target - at_c) / b2, np.inf)
        left_ok = np.isfinite(x_left) & (x_left <= c)
        right_ok = np.isfinite(x_right) & (x_right >= c)
        return np.where(left_ok, x_left, np.where(right_ok, x_right, np.inf))


def information_criteria(sse: float, n: int, k: int, sigma2: float) -> dict[str, float | None]:
    """AIC / AICc / BIC of a least-squares fit with a *known* noise variance sigma2 (k = fitted parameters).

    Known, not estimated from the residuals: with a handful of points, a residual-variance likelihood depends
    only on the ratio of the two models' SSEs, so a 4-parameter curve that fits pure noise 10x better "wins".
    The evaluation noise is known from the per-sample data (see augmath.analysis.fit), so chi2 = SSE / sigma2.
    """
    chi2 = sse / sigma2
    aic = chi2 + 2 * k
    return {"chi2": chi2, "aic": aic, "aicc": aic + 2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else None,
            "bic": chi2 + k * math.log(n)}


def loo_rmse(kind: str, x: np.ndarray, y: np.ndarray) -> float | None:
    """Leave-one-out prediction error; None when some left-out fit is impossible (too few distinct N)."""
    fit = fit_loglinear if kind == "loglinear" else fit_segmented
    errors = []
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        if len(np.unique(x[keep])) < 2:
            return None
        params = fit(x[keep], y[keep][:, None], refine=False)
        if params is None:
            return None
        errors.append(predict(params, x[i:i + 1])[0, 0] - y[i])
    return float(np.sqrt(np.mean(np.square(errors))))

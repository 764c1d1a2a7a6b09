"""RegMix's regression (Liu et al. 2024), small: a quadratic model from domain shares to loss, and its minimum.

Shares live on the simplex, so the model uses the first k-1 shares and every product of two of them (exact for
any quadratic loss surface); a little ridge keeps it stable with few runs. The pick is the mean of the `top`
best of many candidate mixtures drawn from the same Dirichlet as the runs (RegMix's recipe: averaging the top
candidates is steadier than one argmin, and drawing them where the runs were avoids extrapolating).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def features(w: np.ndarray) -> np.ndarray:
    """[1, w_1..w_{k-1}, w_i·w_j (i <= j < k)] per row of `w` (n × k shares)."""
    x = np.atleast_2d(w)[:, :-1]
    cols = [np.ones(len(x))] + [x[:, i] for i in range(x.shape[1])]
    cols += [x[:, i] * x[:, j] for i in range(x.shape[1]) for j in range(i, x.shape[1])]
    return np.stack(cols, axis=1)


@dataclass
class Fit:
    coef: np.ndarray
    r2: float

    def predict(self, w: np.ndarray) -> np.ndarray:
        return features(w) @ self.coef


def fit(w: np.ndarray, y: np.ndarray, ridge: float = 1e-6) -> Fit:
    """Least squares with a small ridge on every term but the intercept."""
    x = features(w)
    pen = np.eye(x.shape[1]) * ridge
    pen[0, 0] = 0.0
    coef = np.linalg.solve(x.T @ x + pen, x.T @ np.asarray(y, dtype=float))
    resid = y - x @ coef
    ss = float(((y - y.mean()) ** 2).sum())
    return Fit(coef, 1.0 - float((resid**2).sum()) / ss if ss > 0 else 1.0)


def sample(shares: np.ndarray, concentration: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n mixtures from Dirichlet(concentration × shares) (shares > 0)."""
    return rng.dirichlet(np.asarray(shares, dtype=float) * concentration, size=n)


def best(
    model: Fit,
    shares: np.ndarray,
    concentration: float,
    candidates: int,
    top: int,
    rng: np.random.Generator,
    min_share: float = 0.0,
) -> np.ndarray:
    """The mean of the `top` candidates with the lowest predicted loss."""
    cand = sample(shares, concentration, candidates, rng)
    cand = cand[(cand >= min_share).all(axis=1)] if min_share > 0 else cand
    if len(cand) == 0:
        raise ValueError("no candidate mixture gives every domain min_share; lower it or the concentration")
    pred = model.predict(cand)
    pick = cand[np.argsort(pred)[: min(top, len(cand))]].mean(axis=0)
    return pick / pick.sum()

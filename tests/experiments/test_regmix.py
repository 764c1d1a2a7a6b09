"""The mixture regression recovers the optimum of a known loss surface (RegMix-style fit and pick)."""

from __future__ import annotations

import numpy as np
import pytest

from mixloom.experiments import regmix


@pytest.mark.parametrize(
    "shares, optimum",
    [
        ([0.5127, 0.4873], [0.62, 0.38]),
        ([0.4, 0.4, 0.2], [0.3, 0.45, 0.25]),
        ([0.25, 0.25, 0.25, 0.25], [0.15, 0.35, 0.3, 0.2]),
    ],
)
def test_fit_recovers_known_optimum_within_005(shares, optimum):
    rng = np.random.default_rng(0)
    shares, opt = np.array(shares), np.array(optimum)
    k = len(shares)
    a = np.linspace(1.0, 3.0, k)  # a curved bowl: different curvature per domain, minimum at `opt`

    def loss(w):
        return 2.5 + ((w - opt) ** 2 * a).sum(axis=1) + rng.normal(0, 0.002, len(w))  # seed-like noise

    w = regmix.sample(shares, 8.0, 32, rng)
    model = regmix.fit(w, loss(w))
    pick = regmix.best(model, shares, 8.0, 50_000, 100, rng)
    assert pick.sum() == pytest.approx(1.0)
    assert np.abs(pick - opt).max() < 0.05, (pick, opt)
    assert model.r2 > 0.9


def test_fit_is_exact_on_a_quadratic_and_min_share_is_respected():
    rng = np.random.default_rng(1)
    w = regmix.sample(np.array([0.5, 0.3, 0.2]), 5.0, 20, rng)
    y = 1 + 0.5 * w[:, 0] - 2 * w[:, 1] * w[:, 0] + w[:, 1] ** 2
    model = regmix.fit(w, y, ridge=0.0)
    assert np.allclose(model.predict(w), y, atol=1e-8) and model.r2 == pytest.approx(1.0)
    pick = regmix.best(model, np.array([0.5, 0.3, 0.2]), 5.0, 5000, 10, rng, min_share=0.1)
    assert (pick >= 0.1 - 1e-9).all()
    with pytest.raises(ValueError, match="min_share"):
        regmix.best(model, np.array([0.5, 0.3, 0.2]), 5.0, 100, 10, rng, min_share=0.9)

"""Variant overrides: dotted keys into the recipe mapping, steps by name or position, on and off."""

from __future__ import annotations

import pytest

from mixloom.errors import UserError
from mixloom.experiments.overrides import apply_overrides

BASE = {
    "name": "x",
    "steps": [
        {"normalize": {"form": "NFKC"}},
        {"language": {"keep": ["en"], "min_score": 0.5}},
        {"dedup": {"method": "exact"}},
        {"dedup": {"method": "minhash", "threshold": 0.8}},
        {"toxicity": None},
    ],
    "mix": {"shares": {"a": 0.5, "b": 0.5}, "tokenizer": "approx"},
}


def test_values_steps_by_name_and_position_and_base_untouched():
    out = apply_overrides(
        BASE,
        {
            "mix.shares": {"a": 0.7, "b": 0.3},
            "mix.budget": 1000,
            "steps.language.min_score": 0.9,
            "steps.dedup#2.threshold": 0.6,
            "steps.toxicity.max": {"toxicity": 0.5},
            "steps.dedup": {"method": "exact", "keep": "first"},
        },
        "v",
    )
    assert out["mix"] == {"shares": {"a": 0.7, "b": 0.3}, "tokenizer": "approx", "budget": 1000}
    assert out["steps"][1] == {"language": {"keep": ["en"], "min_score": 0.9}}
    assert out["steps"][2] == {"dedup": {"method": "exact", "keep": "first"}}
    assert out["steps"][3]["dedup"]["threshold"] == 0.6
    assert out["steps"][4] == {"toxicity": {"max": {"toxicity": 0.5}}}
    assert BASE["steps"][1]["language"]["min_score"] == 0.5 and BASE["mix"]["shares"]["a"] == 0.5


def test_steps_off_on_and_raw():
    off = apply_overrides(BASE, {"steps.dedup#2": None, "steps.0": None}, "v")
    assert [next(iter(s)) for s in off["steps"]] == ["language", "dedup", "toxicity"]
    on = apply_overrides(BASE, {"steps.+": {"line_dedup": {"min_repeats": 3}}}, "v")
    assert on["steps"][-1] == {"line_dedup": {"min_repeats": 3}} and len(on["steps"]) == 6
    assert apply_overrides(BASE, {"steps": []}, "v")["steps"] == []
    assert "tokenizer" not in apply_overrides(BASE, {"mix.tokenizer": None}, "v")["mix"]


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"steps.quality.rules": ["c4"]}, "no step 'quality'"),
        ({"steps.dedup#3": None}, "no step 'dedup#3'"),
        ({"steps.9": None}, "out of range"),
        ({"name.x": 1}, "not a mapping or list"),
        ({"steps.+.x": 1}, "appends a whole item"),
    ],
)
def test_mistakes_name_the_variant_and_key(overrides, needle):
    with pytest.raises(UserError) as e:
        apply_overrides(BASE, overrides, "ablate.variants.bad")
    assert needle in str(e.value) and f"ablate.variants.bad.{next(iter(overrides))}" in str(e.value)

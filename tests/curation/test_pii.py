"""The pii detectors and step: checksums, look-alikes that must stay, hostile inputs (huge, unicode,
overlapping), per-type actions, determinism, and precision/recall on a planted corpus from data/."""

from __future__ import annotations

import json
import time

import polars as pl
import pytest

from bench.pii_corpus import LOOKALIKES, build, real_paragraphs
from curation.pii import checks
from curation.pii.detect import TYPES, scan, scan_batch
from curation.pii.redact import PLACEHOLDER, redact_batch
from curation.steps.base import REJECT
from curation.steps.registry import build_steps
from mixloom.errors import RecipeError, UserError

ALL = {t: "redact" for t in TYPES}


def _types(text: str) -> list[tuple[str, str]]:
    return [(s.type, text[s.start : s.end]) for s in scan(text)]


def _df(texts: list[str], **cols) -> pl.DataFrame:
    n = len(texts)
    return pl.DataFrame(
        {"id": [f"d{i}" for i in range(n)], "source": ["s"] * n, "domain": ["g"] * n, "text": texts,
         "tokens": [len(t.split()) for t in texts], "origin": ["f:1"] * n, "meta": ["{}"] * n, **cols}
    )  # fmt: skip


def _step(params: dict, tmp_path):
    (step,) = build_steps([{"pii": params}], tmp_path, 0, "r.yaml")
    return step


# --- validators -------------------------------------------------------------------------------------------


def test_checksums_accept_published_examples_and_reject_one_digit_off():
    assert checks.iban("GB82 WEST 1234 5698 7654 32") and not checks.iban("GB82 WEST 1234 5698 7654 33")
    assert checks.iban("DE89370400440532013000") and not checks.iban("DE89370400440532013001")
    assert checks.card("4111111111111111") and not checks.card("4111111111111112")
    assert checks.card("378282246310005") and not checks.card("9780306406157")  # an ISBN-13 is no card
    assert checks.us_ssn("536", "22", "1234") and not checks.us_ssn("666", "22", "1234")
    assert not checks.us_ssn("912", "22", "1234") and not checks.us_ssn("536", "00", "1234")
    assert checks.es_dni("12345678", "Z") and not checks.es_dni("12345678", "A")
    assert checks.es_dni("X1234567", "L")
    assert checks.verhoeff("2363") and not checks.verhoeff("2364")


@pytest.mark.parametrize("text,what", LOOKALIKES)
def test_lookalikes_stay(text, what):
    assert _types(f"Some text, {text}, and more.") == [], what


@pytest.mark.parametrize(
    "text,kind",
    [
        ("write to anna-lena.müller@uni-bonn.de.", "email"),
        ("call +1 (202) 555-0173 now", "phone"),
        ("ring 020 7946 0958", "phone"),
        ("call us on 0772 8378", "phone"),  # a local number: only after a phone word
        ("Tel.: 206.269.0743x9150", "phone"),
        ("+33 (0)6 44 83 37 88", "phone"),
        ("Maestro 6759649826438453", "credit_card"),
        ("card 501803485595", "credit_card"),  # 12-digit Maestro
        ('aws_secret_access_key = "/ugeRw/iKBZwsPWYW5Zeui7ncr0ONUH7gtZ5cRz1"', "secret"),
        ("Authorization: Bearer mYRdC706f8_Gpr.vmA-Zyk1g0PvKtNXMyASTbtzb", "secret"),
        ("host 10.20.30.40:22 up", "ipv4"),
        ("ssh root@172.16.254.7", "ipv4"),
        ("addr fe80::1ff:fe23:4567:890a%eth0 up", "ipv6"),
        ("card 5555-5555-5555-4444 exp", "credit_card"),
        ("IBAN NL91ABNA0417164300.", "iban"),
        ("SSN 536-22-1234", "national_id"),
        ("NI number AB 12 34 56 C", "national_id"),
        ("git clone https://deploy:hunter2x@git.acme.io/r.git", "url_credentials"),
        ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "secret"),
        ('password = "Tr0ub4dor&3"', "secret"),
        ("post to https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx", "secret"),
        ("AZURE_CLIENT_SECRET=abc8Q~" + "a1b2c3d4e5" * 3 + "abcd", "secret"),
        ("AccountName=x;AccountKey=" + "Ab1+" * 21 + "Ab==;EndpointSuffix=core", "secret"),
        ("https://acct.blob.core.windows.net/c?sv=2020&sig=" + "aB3%2F" * 8 + "%3D", "secret"),
        ("key AIza" + "Sy0123456789abcdefABCDEF_-0123456xy" + " here", "secret"),
        ("gh token ghs_" + "A1b2" * 9, "secret"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "secret",
        ),
    ],
)
def test_each_type_is_found(text, kind):
    assert kind in [t for t, _ in _types(text)], _types(text)


def test_version_context_keeps_dotted_quads_but_not_hosts():
    assert _types("Upgrade to version 10.2.33.4 today") == []
    assert _types("pip install pkg==10.2.33.4") == []
    assert _types("Connect to 10.2.33.4 today") == [("ipv4", "10.2.33.4")]
    assert _types("docs use 192.0.2.10 and 2001:db8::7") == []


# --- hostile inputs ---------------------------------------------------------------------------------------


def test_overlapping_matches_resolve_to_one_span_each():
    text = (
        'api_key = "4111111111111111" and https://bob%40corp.com:s3cr3tPw@db.example.org/x '
        "and postgres://admin:pw1234@10.1.2.3:5432/db"
    )
    spans = scan(text)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))  # sorted, disjoint
    out = redact_batch([text], ALL)[0].text
    assert "4111" not in out and "s3cr3tPw" not in out and "pw1234" not in out
    assert "<<" not in out and ">>" not in out  # no placeholder inside another


def test_nul_inside_a_document_does_not_shift_a_batch():
    texts = ["a\x00b mail x.y@gmail.com", "second c.d@gmail.com", ""]
    res = redact_batch(texts, ALL)
    assert [r.text for r in res] == ["a\x00b mail <EMAIL>", "second <EMAIL>", ""]


def test_unicode_fullwidth_digits_and_scripts():
    res = redact_batch(
        ["カード ４１１１ １１１１ １１１１ １１１１ です", "почта иван@почта.рф 🙂", "٠١٢"], ALL
    )
    assert res[0].text == "カード <CREDIT_CARD> です"
    assert res[1].text == "почта <EMAIL> 🙂" and res[2].text == "٠١٢"


def test_huge_and_pathological_documents_scan_in_linear_time():
    """Doubling a hostile document (an unterminated key block, thousands of @, digit runs, colons) about
    doubles the scan time; a super-linear pattern would quadruple it."""
    unit = (
        "-----BEGIN PRIVATE KEY-----\n" + "Ab+/" * 50 + " x@ @y 1 2 3 4 5 6 7 8 9 0 :: a:b:c 1.2.3.4.5 " * 20
    )

    def best(n: int) -> float:
        text = unit * n
        times = []
        for _ in range(3):
            t0 = time.process_time()
            scan(text)
            times.append(time.process_time() - t0)
        return min(times)

    small, big = best(150), best(600)
    assert big / small < 4 * 2  # linear: ~4x for 4x the text; quadratic would be ~16x


@pytest.mark.parametrize(
    "unit",
    [
        "a@b ",  # an @ with word characters on both sides, everywhere
        "1::2 ",  # :: everywhere
        "eyJsk-AKIAAIzaxoxQ~" + "Ab1+/" * 40,  # one endless token full of secret prefixes
        "password=Ab1! " + "token: " * 20,  # key words everywhere
    ],
)
def test_dense_hostile_patterns_stay_linear(unit):
    def best(n: int) -> float:
        text = unit * n
        times = []
        for _ in range(3):
            t0 = time.process_time()
            scan(text)
            times.append(time.process_time() - t0)
        return min(times)

    reps = max(1, 20_000 // len(unit))
    small, big = best(reps), best(4 * reps)
    assert big / small < 4 * 2, (small, big)


def test_a_long_run_of_digits_and_separators_is_bounded():
    text = "0 " * 200_000 + "x@y.co " * 1000 + "1." * 100_000
    res = redact_batch([text], ALL)[0]
    assert res.counts == {"email": 1000}


# --- the step ---------------------------------------------------------------------------------------------


def test_actions_per_type(tmp_path):
    step = _step({"types": {"email": "mask", "secret": "reject", "ipv4": "off"}}, tmp_path)
    out = step.process(
        _df(["mail a.b@gmail.com from 10.1.2.3", "key ghp_" + "a1B2" * 9 + " here", "clean text"])
    )
    assert out["text"].to_list() == [
        "mail *.*@*****.*** from 10.1.2.3",
        "key <SECRET> here",
        "clean text",
    ]
    assert out[REJECT].to_list() == [None, "pii:secret", None]
    assert "pii_ipv4" not in out.columns and out["pii_email"].to_list() == [1, 0, 0]
    spans = json.loads(out["pii_spans"][1])
    assert spans == [{"type": "secret", "kind": "github_token", "start": 4, "end": 12}]
    assert step.counts(out)["secret"] == 1


def test_apply_to_leaves_other_sources_untouched(tmp_path):
    (step,) = build_steps([{"pii": {"apply_to": {"sources": ["web"]}}}], tmp_path, 0, "r.yaml")
    df = _df(["a@b.io x.y@gmail.com", "x.y@gmail.com"]).with_columns(pl.Series("source", ["web", "code"]))
    out = step.process(df)
    assert out["text"].to_list() == ["<EMAIL> <EMAIL>", "x.y@gmail.com"]
    assert out["pii_email"].to_list() == [2, None] and step.counts(out)["email"] == 2


def test_batch_equals_one_by_one_and_is_deterministic():
    docs = [d.text for d in build(real_paragraphs(shared=False), per_type=5, seed=3)]
    batch = [r.text for r in redact_batch(docs, ALL)]
    assert batch == [redact_batch([d], ALL)[0].text for d in docs]
    assert batch == [r.text for r in redact_batch(docs, ALL)]


def test_span_offsets_point_at_placeholders():
    docs = [d.text for d in build(real_paragraphs(shared=False), per_type=5, seed=4)]
    for r in redact_batch(docs, ALL):
        for s in r.spans:
            assert r.text[s["start"] : s["end"]] == PLACEHOLDER[s["type"]]


def test_yaml_off_and_on_spell_actions(tmp_path):
    import yaml

    step = _step(yaml.safe_load("types: {ipv4: off, email: on}"), tmp_path)
    assert step.actions["ipv4"] == "off" and step.actions["email"] == "redact"


def test_meta_stays_valid_json(tmp_path):
    meta = json.dumps(
        {"author": "Jane <jane.roe@posteo.net>", "cfg": "password: 'Sup3r$ecret!'", "phone": "+44 20 7946 0958",
         "key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"}
    )  # fmt: skip
    out = _step({"types": {"phone": "mask"}}, tmp_path).process(
        _df(["text"]).with_columns(pl.lit(meta).alias("meta"))
    )
    back = json.loads(out["meta"][0])
    assert back["author"] == "Jane <<EMAIL>>" and back["key"] == "<PRIVATE_KEY>"
    assert "Sup3r" not in out["meta"][0] and back["phone"] == "+** ** **** ****"
    assert {s["field"] for s in json.loads(out["pii_spans"][0])} == {"meta"}


def test_bad_params_name_the_key(tmp_path):
    with pytest.raises(RecipeError, match=r"steps\.0\.pii\.types"):
        _step({"types": {"emails": "redact"}}, tmp_path)
    with pytest.raises(RecipeError, match=r"steps\.0\.pii\.action"):
        _step({"action": "delete"}, tmp_path)
    with pytest.raises(RecipeError, match="NER model"):
        _step({"types": {"name": "redact"}}, tmp_path)
    with pytest.raises(UserError, match="no config.json"):
        _step({"ner": {"model": str(tmp_path / "nope")}}, tmp_path)


# --- precision and recall on planted data -----------------------------------------------------------------


def test_precision_and_recall_per_type_on_planted_sample_data():
    docs = build(real_paragraphs(shared=False), per_type=60, seed=11)
    for t in TYPES:
        planted = hit = det = good = 0
        for d in docs:
            found = [(s.start, s.end) for s in scan(d.text) if s.type == t]
            gold = [(s, e) for s, e, ty in d.spans if ty == t]
            planted += len(gold)
            hit += sum(any(a < ge and b > gs for a, b in found) for gs, ge in gold)
            det += len(found)
            good += sum(any(a < ge and b > gs for gs, ge in gold) for a, b in found)
        assert hit / planted >= 0.99, (t, hit, planted)
        assert good / det >= 0.97, (t, good, det)


def test_triggers_never_hide_a_match():
    """The batch path (Polars triggers pick the texts each family scans) finds exactly what scanning
    every text with every family finds: each trigger is a necessary condition of its family."""
    docs = [d.text for d in build(real_paragraphs(shared=False), per_type=20, seed=5)]
    docs += [f"x {t} y" for t, _ in LOOKALIKES] + ["ＳＳＮ 536-22-1234", "tel.: +44 (0) 20 7946 0958"]
    assert scan_batch(docs) == [scan(d) for d in docs]

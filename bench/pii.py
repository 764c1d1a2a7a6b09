"""PII and secret detection: precision and recall per type, and throughput, for mixloom's `pii` step next
to scrubadub and Presidio's pattern recognizers, on the same planted corpus in the same run.

    .venv/bin/python bench/pii.py [--per-type 300] [--mixed-mb 4]

The corpus (bench/pii_corpus.py) is built at run time from WikiText-2 paragraphs and financial posts
(../shared/data, else data/) with PII and secrets of every type inserted in many formats, and look-alikes
that must stay. A detection counts for a type when it overlaps a planted value of that type; anything else
it reports under that type (look-alikes, real text, another type's value) is a false positive. The same
paragraphs are planted a second time with values made by Faker (12 locales), an independent generator, a
third of the phone numbers without a phone word before them. Throughput is bytes of UTF-8 text
per CPU second of one process (Polars limited to one thread), on the planted corpus and on mixed real text
(paragraphs, posts, Python sources) without plants.

The other tools run from their own venv (skipped when absent):
    python3 -m venv .bench/venvs/pii && .bench/venvs/pii/bin/pip install scrubadub presidio-analyzer
Presidio runs its pattern recognizers (and the phonenumbers-based phone recognizer) directly, with no spaCy
model: the NER recognizers are out, as mixloom's NER option is here.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "venvs" / "pii" / "bin" / "python"

# --- the other tools (run inside their venv: this file imports nothing of mixloom at module level) ------

# values from Faker (an independent generator, many locales), made in the bench venv
FAKER = r"""
import json, sys
from faker import Faker
n = int(sys.argv[1])
out = []
locs = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN", "ja_JP", "en_CA", "pt_BR", "en_AU"]
fakers = [Faker(l) for l in locs]
for i, f in enumerate(fakers):
    f.seed_instance(i)
us = fakers[0]
for i in range(n):
    f = fakers[i % len(fakers)]
    out += [["email", f.email()], ["phone", f.phone_number()], ["ipv4", us.ipv4_public()],
            ["ipv4", us.ipv4_private()], ["ipv6", us.ipv6()], ["credit_card", us.credit_card_number()],
            ["iban", fakers[i % 7].iban()], ["national_id", us.ssn()]]
print(json.dumps(out))
"""
CARRIER = {
    "email": "Contact {} for details.", "ipv4": "from IP {}.", "ipv6": "addr {} up",
    "phone": ["Call {} today.", "Tel: {}", "or {} after 5pm"],  # the last one without a phone word
    "credit_card": "card {} exp 04/27", "iban": "IBAN {}", "national_id": "SSN {} on file",
}  # fmt: skip

WORKER = r"""
import json, sys, time, logging, warnings
logging.disable(logging.CRITICAL); warnings.filterwarnings("ignore")
tool, path = sys.argv[1], sys.argv[2]
texts = json.load(open(path))
if tool == "scrubadub":
    import scrubadub
    s = scrubadub.Scrubber()
    MAP = {"email": "email", "phone": "phone", "credit_card": "credit_card", "credential": "secret",
           "social_security_number": "national_id"}
    def detect(t):
        return [(f.beg, f.end, MAP[f.type]) for f in s.iter_filth(t) if f.type in MAP]
else:
    from presidio_analyzer.predefined_recognizers import (EmailRecognizer, PhoneRecognizer, IpRecognizer,
        CreditCardRecognizer, IbanRecognizer, UsSsnRecognizer, UkNinoRecognizer, InAadhaarRecognizer,
        EsNifRecognizer, EsNieRecognizer, CaSinRecognizer)
    recs = [R() for R in (EmailRecognizer, PhoneRecognizer, IpRecognizer, CreditCardRecognizer, IbanRecognizer,
            UsSsnRecognizer, UkNinoRecognizer, InAadhaarRecognizer, EsNifRecognizer, EsNieRecognizer, CaSinRecognizer)]
    MAP = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "credit_card", "IBAN_CODE": "iban",
           "US_SSN": "national_id", "UK_NINO": "national_id", "IN_AADHAAR": "national_id", "ES_NIF": "national_id",
           "ES_NIE": "national_id", "CA_SIN": "national_id"}
    def detect(t):
        out = []
        for r in recs:
            for x in r.analyze(t, entities=r.supported_entities, nlp_artifacts=None):
                if x.entity_type == "IP_ADDRESS":
                    out.append((x.start, x.end, "ipv6" if ":" in t[x.start:x.end] else "ipv4"))
                elif x.entity_type in MAP and x.score >= 0.3:
                    out.append((x.start, x.end, MAP[x.entity_type]))
        return out
detect("warm up john@gmail.com 10.1.2.3 +44 20 7946 0958")
t0 = time.process_time()
found = [detect(t) for t in texts]
print(json.dumps({"seconds": time.process_time() - t0, "found": found}))
"""


def faker_docs(paragraphs: list[str], n: int, seed: int) -> list | None:
    """The planted corpus again, with values from Faker instead of bench/pii_corpus.py's generators."""
    if not VENV.exists():
        return None
    try:
        out = subprocess.run([str(VENV), "-c", FAKER, str(n)], capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as e:
        print(f"faker failed: {e.stderr[-300:]}", file=sys.stderr)
        return None
    import random

    from bench.pii_corpus import plant

    rng = random.Random(seed)
    pick = lambda c: rng.choice(c) if isinstance(c, list) else c  # noqa: E731
    items = [(t, pick(CARRIER[t]), v) for t, v in json.loads(out.stdout)]
    return plant(paragraphs, items, rng)


def run_other(tool: str, texts: list[str]) -> dict | None:
    if not VENV.exists():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(texts, f)
    try:
        out = subprocess.run(
            [str(VENV), "-c", WORKER, tool, f.name], capture_output=True, text=True, check=True, timeout=3600
        )
    except subprocess.CalledProcessError as e:
        print(f"{tool} failed: {e.stderr[-500:]}", file=sys.stderr)
        return None
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- mixloom ----------------------------------------------------------------------------------------------


def run_mixloom(texts: list[str]) -> dict:
    """Spans in original offsets (the step's trigger, then the detectors), and the step's own throughput."""
    import polars as pl

    from curation.pii.detect import TRIGGER, scan
    from curation.steps.base import StepContext
    from curation.steps.pii import PiiParams, build

    flags = pl.Series(texts).str.contains(TRIGGER).to_list()
    found = [
        [(s.start, s.end, s.type) for s in scan(t)] if f else [] for t, f in zip(texts, flags, strict=True)
    ]
    step = build(PiiParams(meta=False), StepContext(root=ROOT))
    df = pl.DataFrame(
        {"id": [str(i) for i in range(len(texts))], "source": "s", "domain": "d", "text": texts}
    )
    t0 = time.process_time()
    step.process(df)
    return {"seconds": time.process_time() - t0, "found": found}


# --- scoring ----------------------------------------------------------------------------------------------


def score(docs, found: list[list], types: tuple[str, ...]) -> dict[str, dict[str, float]]:
    res = {}
    for t in types:
        planted = hit = det = good = 0
        for d, spans in zip(docs, found, strict=True):
            mine = [(s, e) for s, e, ty in spans if ty == t]
            gold = [(s, e) for s, e, ty in d.spans if ty == t]
            planted += len(gold)
            hit += sum(any(s < ge and e > gs for s, e in mine) for gs, ge in gold)
            det += len(mine)
            good += sum(any(s < ge and e > gs for gs, ge in gold) for s, e in mine)
        res[t] = {"planted": planted, "recall": hit / planted if planted else float("nan"),
                  "detections": det, "precision": good / det if det else float("nan")}  # fmt: skip
    return res


def mixed_text(mb: float) -> list[str]:
    """Real text without plants: paragraphs and posts, and Python sources cut into documents."""
    from bench.pii_corpus import real_paragraphs

    docs = real_paragraphs()
    src = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "**", "*.py"), recursive=True))
    size = sum(len(d.encode()) for d in docs)
    for p in src:
        if size >= mb * 1e6:
            break
        for block in Path(p).read_text(encoding="utf-8", errors="replace").split("\n\n\n"):
            docs.append(block)
            size += len(block.encode())
    return docs


def print_scores(docs, results: dict, types: tuple[str, ...]) -> None:
    cols = list(results)
    print(f"\n{'type':16s}" + "".join(f"{c + ' P':>12s}{c + ' R':>12s}" for c in cols))
    scores = {c: score(docs, results[c]["found"], types) for c in cols}
    for t in types:
        row = f"{t:16s}"
        for c in cols:
            s = scores[c][t]
            none = s["detections"] == 0 and c != "mixloom"
            p = "-" if none else f"{s['precision']:.3f}"
            r = "-" if none else f"{s['recall']:.3f}"
            row += f"{p:>12s}{r:>12s}"
        print(row)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-type", type=int, default=300)
    ap.add_argument("--mixed-mb", type=float, default=4.0)
    ap.add_argument("--others-docs", type=int, default=1500, help="mixed documents the other tools get")
    ap.add_argument("--seed", type=int, default=0, help="seed of the planted corpus")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.pii_corpus import TYPES, build, real_paragraphs

    docs = build(real_paragraphs(), per_type=args.per_type, seed=args.seed)
    texts = [d.text for d in docs]
    mixed = mixed_text(args.mixed_mb)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"planted corpus (bench/pii_corpus.py): {len(docs):,} documents, {mb:.2f} MB, {args.per_type} values per type; "
          f"mixed text: {len(mixed):,} documents, {sum(len(t.encode()) for t in mixed) / 1e6:.2f} MB")  # fmt: skip
    results = {"mixloom": run_mixloom(texts)}
    speed = {"mixloom": run_mixloom(mixed)["seconds"]}
    sub = mixed[: args.others_docs]
    for tool in ("scrubadub", "presidio"):
        r = run_other(tool, texts)
        if r is None:
            print(f"{tool}: skipped ({VENV} absent or failed)")
            continue
        results[tool] = r
        speed[tool] = run_other(tool, sub)["seconds"]
    print_scores(docs, results, TYPES)
    fdocs = faker_docs(real_paragraphs(), args.per_type // 2, args.seed)
    if fdocs is not None:
        ftexts = [d.text for d in fdocs]
        fres = {"mixloom": run_mixloom(ftexts)}
        for tool in ("scrubadub", "presidio"):
            r = run_other(tool, ftexts)
            if r is not None:
                fres[tool] = r
        ftypes = tuple(t for t in TYPES if any(ty == t for d in fdocs for *_, ty in d.spans))
        print(
            f"\nvalues from Faker (12 locales; SSNs en_US; IBANs as Faker makes them), {len(fdocs):,} documents:"
        )
        print_scores(fdocs, fres, ftypes)
    mixed_mb = sum(len(t.encode()) for t in mixed) / 1e6
    sub_mb = sum(len(t.encode()) for t in sub) / 1e6
    print("\nthroughput (MB of text per CPU second, one process):")
    for c in results:
        on_planted = mb / results[c]["seconds"]
        on_mixed = (mixed_mb if c == "mixloom" else sub_mb) / speed[c]
        print(f"  {c:10s} planted {on_planted:8.2f} MB/s   mixed {on_mixed:8.2f} MB/s")
    print(f"(mixed text for the other tools: the first {len(sub):,} documents, {sub_mb:.2f} MB)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

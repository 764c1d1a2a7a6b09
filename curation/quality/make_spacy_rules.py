"""Regenerate `spacy_en_rules.json` from an installed spaCy (MIT licence, (c) ExplosionAI GmbH).

The quality rules count words the way spaCy's blank English tokenizer splits them (that is what the reference
implementations use), without depending on spaCy at run time: this script exports the tokenizer's affix
patterns, URL pattern, special cases, and the sentencizer's punctuation characters into a JSON asset.
Run it with a Python that has spaCy installed:  `python curation/quality/make_spacy_rules.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

if __name__ == "__main__":
    import spacy
    from spacy.pipeline.sentencizer import Sentencizer
    from spacy.symbols import ORTH

    nlp = spacy.blank("en")
    tok = nlp.tokenizer
    rules = {k: [d[ORTH] for d in v] for k, v in sorted(tok.rules.items())}
    data = {
        "source": f"spaCy {spacy.__version__} blank('en') tokenizer and Sentencizer defaults (MIT licence)",
        "prefix": tok.prefix_search.__self__.pattern,
        "suffix": tok.suffix_search.__self__.pattern,
        "infix": tok.infix_finditer.__self__.pattern,
        "url": tok.url_match.__self__.pattern,
        "url_flags": int(tok.url_match.__self__.flags),
        "rules": rules,
        "punct_chars": list(Sentencizer.default_punct_chars),
    }
    out = Path(__file__).with_name("spacy_en_rules.json")
    out.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(rules)} special cases)")

"""Tokenizer: byte-level round trip on real text, special tokens, and the chat template's assistant mask."""

from __future__ import annotations

import pytest
from train_helpers import wiki_paragraphs

from mixloom.tokenizer import EOS, IM_END, IM_START, SPECIAL_TOKENS
from training.data import encode
from training.tokenizer import load_tokenizer, train_tokenizer


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    texts = wiki_paragraphs()
    trained = train_tokenizer(iter([texts[i : i + 100] for i in range(0, len(texts), 100)]), vocab_size=600)
    path = tmp_path_factory.mktemp("tok")
    trained.save_pretrained(path)
    return load_tokenizer(path)  # what later stages see: the saved directory


def test_vocab_and_specials(tok):
    assert len(tok) == 600
    ids = [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS]
    assert len(set(ids)) == len(SPECIAL_TOKENS) and all(i < len(SPECIAL_TOKENS) for i in ids)
    assert tok.eos_token == EOS and tok.pad_token_id is not None and tok.pad_token_id != tok.eos_token_id


@pytest.mark.parametrize(
    "text", ["", "Café – naïve coöperation ünïcödé 東京 🙂", "  leading\tand\n\ntrailing  "]
)
def test_round_trip_unusual_text(tok, text):
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_round_trip_wikitext(tok):
    paras = wiki_paragraphs()[:200]
    ids = tok(paras, add_special_tokens=False)["input_ids"]
    assert [tok.decode(x) for x in ids] == paras
    # BPE actually compresses: fewer tokens than bytes
    assert sum(map(len, ids)) < 0.6 * sum(len(p.encode()) for p in paras)


def test_pretraining_encode_keeps_special_strings_as_text(tok):
    text = f"a document that mentions {EOS} literally"
    ids = encode(tok, [text])[0]
    assert ids[-1] == tok.eos_token_id and tok.eos_token_id not in ids[:-1]
    assert tok.decode(ids[:-1]) == text


def test_chat_template_masks_assistant_turns_only(tok):
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "It is 4."},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6"},
    ]
    out = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask) and set(mask) == {0, 1}
    spans, cur = [], []
    for i, m in zip(ids, mask, strict=True):
        if m:
            cur.append(i)
        elif cur:
            spans.append(cur)
            cur = []
    assert [tok.decode(s) for s in spans] == [f"It is 4.{IM_END}", f"6{IM_END}"]
    # nothing of the system/user turns is marked
    unmasked = tok.decode([i for i, m in zip(ids, mask, strict=True) if not m])
    assert "What is 2+2?" in unmasked and "Be brief." in unmasked and "It is 4." not in unmasked


def test_generation_prompt(tok):
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == f"{IM_START}user\nhi{IM_END}\n{IM_START}assistant\n"
    from trl.chat_template_utils import is_chat_template_stop_token_trained

    assert is_chat_template_stop_token_trained(tok)

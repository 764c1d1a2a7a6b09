"""The pretrained model directory is a plain Llama checkpoint that vLLM serves with the same greedy output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.vllm

SCRIPT = """
import json, sys
from vllm import LLM, SamplingParams
llm = LLM(model=sys.argv[1], dtype="float32", enforce_eager=True, enable_chunked_prefill=False, seed=0,
          max_model_len=128)
outs = llm.generate(json.loads(sys.argv[2]), SamplingParams(temperature=0, max_tokens=10))
print("IDS=" + json.dumps([list(o.outputs[0].token_ids) for o in outs]))
"""


def test_vllm_serves_the_pretrained_model(wiki_pretrained):
    pytest.importorskip("vllm")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run, _, _ = wiki_pretrained
    path = run / "train" / "pretrain" / "model"
    prompts = ["The first pair of", "In 1986 , the band"]
    env = {
        **os.environ,
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "OMP_NUM_THREADS": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), json.dumps(prompts)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    served = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("IDS="))[4:])
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    for prompt, ids in zip(prompts, served, strict=True):
        x = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
        with torch.no_grad():
            out = model.generate(x, max_new_tokens=10, do_sample=False, eos_token_id=tok.eos_token_id)
        assert out[0, x.shape[1] :].tolist() == ids

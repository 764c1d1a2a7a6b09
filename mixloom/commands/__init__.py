"""CLI commands, one module each; every module exposes `register(app)`.

Modules import their stage package inside the command function, so `mixloom --help` stays fast
and a stage's heavy dependencies (torch, vllm) load only when that stage runs.
"""

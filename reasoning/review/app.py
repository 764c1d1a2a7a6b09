"""The review web app (Starlette, served by uvicorn; both already come with vLLM's OpenAI server).

Pages are rendered on the server (`page.py`); a form post records one decision and redirects to the next
item. Every request is checked before anything is written: a missing or wrong form token (403), an unknown
item (404), an action that does not fit the item, a reject without a reason, an edit without a changed answer,
a bad reviewer id (400), a body that is too large (413) or not a form (415). Nothing is written on any of them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mixloom.layout import RunLayout
from reasoning.review.agreement import agreement, is_disagreement
from reasoning.review.export import decisions_path
from reasoning.review.items import Item, load_items
from reasoning.review.page import render
from reasoning.review.store import Decision, DecisionLog

FILTERS = ("unreviewed", "disagreements", "all")
REVIEWER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
MAX_BODY = 256 * 1024  # an edited answer is text; a quarter MiB is plenty
MAX_TEXT = 100_000


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Review:
    layout: RunLayout
    items: list[Item]
    log: DecisionLog
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def __post_init__(self) -> None:
        self.by_id = {i.id: i for i in self.items}
        self.position = {i.id: n for n, i in enumerate(self.items)}
        self.tasks = sorted({i.task for i in self.items})

    def matches(self, item: Item, filt: str, task: str, reviewer: str, latest: dict) -> bool:
        if task and item.task != task:
            return False
        by = latest.get(item.id, {})
        if filt == "unreviewed":
            return reviewer not in by
        if filt == "disagreements":
            return is_disagreement(by, item)
        return True

    def progress(self, reviewer: str, latest: dict[str, dict[str, Decision]]) -> dict[str, Any]:
        mine = sum(1 for by in latest.values() if reviewer in by)
        total = len(self.items)
        dis = sum(1 for i, by in latest.items() if i in self.by_id and is_disagreement(by, self.by_id[i]))
        return {"mine": mine, "total": total, "any": len(latest), "disagreements": dis}


def _args(request: Request) -> tuple[str, str]:
    filt = request.query_params.get("filter", "unreviewed")
    task = request.query_params.get("task", "")
    return (filt if filt in FILTERS else "unreviewed"), task


def _reviewer(request: Request) -> str | None:
    name = request.cookies.get("reviewer", "")
    return name if REVIEWER.fullmatch(name) else None


def _page(review: Review, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    reviewer = _reviewer(request)
    latest = review.log.latest()
    filt, task = ctx.pop("filter", None), ctx.pop("task", None)
    if filt is None:
        filt, task = _args(request)
    html = render(
        name,
        nonce=nonce,
        run=review.layout.root.name,
        reviewer=reviewer,
        progress=review.progress(reviewer or "", latest),
        agreement=agreement(latest, review.by_id),
        filters=FILTERS,
        filter=filt,
        tasks=review.tasks,
        task=task or "",
        token=review.token,
        **ctx,
    )
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def make_app(layout: RunLayout, host: str = "127.0.0.1") -> Starlette:
    """The app over one run: its items are loaded once, decisions go to the run's `review/decisions.sqlite`.
    Only requests addressed to this machine's names (or the bound host) are served: a DNS-rebinding page
    cannot read or post through it."""
    review = Review(layout, load_items(layout), DecisionLog(decisions_path(layout)))

    async def index(request: Request) -> Response:
        return RedirectResponse("/next", status_code=303)

    async def next_item(request: Request) -> Response:
        reviewer = _reviewer(request)
        if reviewer is None:
            return _page(review, request, "login")
        filt, task = _args(request)
        latest = review.log.latest()
        start = review.position.get(request.query_params.get("after", ""), -1) + 1
        order = review.items[start:] + review.items[:start]
        hit = next((i for i in order if review.matches(i, filt, task, reviewer, latest)), None)
        if hit is None:
            return _page(review, request, "done")
        return RedirectResponse("/item?" + urlencode({"id": hit.id, "filter": filt, "task": task}), 303)

    async def show_item(request: Request) -> Response:
        reviewer = _reviewer(request)
        if reviewer is None:
            return _page(review, request, "login")
        item = review.by_id.get(request.query_params.get("id", ""))
        if item is None:
            return _page(review, request, "error", status=404, message="no such item")
        mine = review.log.latest().get(item.id, {}).get(reviewer)
        pos = review.position[item.id] + 1
        return _page(review, request, "item", item=item, mine=mine, position=pos, total=len(review.items))

    async def set_reviewer(request: Request) -> Response:
        try:
            form = await _form(request, review.token)
            name = form.get("name", "").strip()
            if not REVIEWER.fullmatch(name):
                raise BadRequest(400, "a reviewer id is 1-64 letters, digits or _ . @ -")
        except BadRequest as e:
            return _page(review, request, "login", status=e.status, message=e.message)
        resp = RedirectResponse("/next", status_code=303)
        resp.set_cookie("reviewer", name, httponly=True, samesite="strict", max_age=30 * 86400)
        return resp

    async def decide(request: Request) -> Response:
        try:
            form = await _form(request, review.token)
            reviewer = _reviewer(request)
            if reviewer is None:
                raise BadRequest(400, "no reviewer id: open / and enter one first")
            item = review.by_id.get(form.get("item", ""))
            if item is None:
                raise BadRequest(404, "no such item")
            fields = _decision(item, form)
        except BadRequest as e:
            if request.headers.get("accept", "").startswith("application/json"):
                return JSONResponse({"error": e.message}, status_code=e.status)
            return _page(review, request, "error", status=e.status, message=e.message)
        did = review.log.append(item.id, item.kind, reviewer, **fields)
        filt, task = form.get("filter", "unreviewed"), form.get("task", "")
        q = {"filter": filt if filt in FILTERS else "unreviewed", "task": task, "after": item.id}
        return RedirectResponse("/next?" + urlencode(q), status_code=303, headers={"X-Decision-Id": str(did)})

    async def stats(request: Request) -> Response:
        latest = review.log.latest()
        reviewers = sorted({r for by in latest.values() for r in by})
        return JSONResponse(
            {
                "items": len(review.items),
                "decisions": review.log.fingerprint()[0],
                "progress": {r: review.progress(r, latest)["mine"] for r in reviewers},
                "agreement": agreement(latest, review.by_id),
            }
        )

    routes = [
        Route("/", index),
        Route("/next", next_item),
        Route("/item", show_item),
        Route("/reviewer", set_reviewer, methods=["POST"]),
        Route("/decide", decide, methods=["POST"]),
        Route("/stats.json", stats),
    ]
    hosts = ["*"] if host in ("0.0.0.0", "::") else sorted({"127.0.0.1", "localhost", "[::1]", host})
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)])
    app.state.review = review
    return app


async def _form(request: Request, token: str) -> dict[str, str]:
    """The posted form as plain strings, after the size, type, origin and token checks."""
    size = request.headers.get("content-length")
    if size is None or not size.isdigit():
        raise BadRequest(411, "a form post needs a Content-Length")
    if int(size) > MAX_BODY:
        raise BadRequest(413, f"request body over {MAX_BODY} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise BadRequest(415, "post an HTML form (application/x-www-form-urlencoded)")
    origin = request.headers.get("origin")
    if origin not in (None, "null") and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise BadRequest(403, "cross-origin post refused")
    try:
        raw = await request.form(max_files=0, max_fields=16)
    except Exception as e:  # malformed bodies: the multipart/urlencoded parser's own errors
        raise BadRequest(400, f"malformed form: {type(e).__name__}") from None
    form: dict[str, str] = {}
    for k, v in raw.multi_items():
        if not isinstance(v, str):
            raise BadRequest(400, "file uploads are not accepted")
        if k in form:
            raise BadRequest(400, f"field {k!r} given twice")
        form[k] = v
    if not secrets.compare_digest(form.get("token", ""), token):
        raise BadRequest(403, "missing or stale form token: reload the page")
    return form


def _decision(item: Item, form: dict[str, str]) -> dict[str, str | None]:
    """The fields of a valid decision on `item`, or BadRequest saying what is wrong with the form."""
    action = form.get("action", "")
    reason = form.get("reason", "").strip() or None
    if reason is not None and len(reason) > 2000:
        raise BadRequest(400, "reason over 2000 characters")
    if item.kind == "pair":
        if action != "pick":
            raise BadRequest(400, f"a pair takes action 'pick', not {action!r}")
        letter = form.get("pick", "")
        if letter not in ("a", "b"):
            raise BadRequest(400, "pick must be 'a' or 'b'")
        return {"action": "pick", "reason": reason, "pick": item.answers["ab".index(letter)].sample_id}
    if action == "accept":
        return {"action": "accept", "reason": reason}
    if action == "reject":
        if reason is None:
            raise BadRequest(400, "a reject needs a reason")
        return {"action": "reject", "reason": reason}
    if action == "edit":
        answer = form.get("answer", "").replace("\r\n", "\n")
        if not answer.strip():
            raise BadRequest(400, "an edit needs the corrected answer")
        if len(answer) > MAX_TEXT:
            raise BadRequest(413, f"edited answer over {MAX_TEXT} characters")
        if answer.strip() == item.answers[0].text.strip():
            raise BadRequest(400, "the edited answer is unchanged; accept it instead")
        return {"action": "edit", "reason": reason, "answer": answer}
    raise BadRequest(400, f"a sample takes accept, reject or edit, not {action!r}")


def serve(layout: RunLayout, host: str = "127.0.0.1", port: int = 8765) -> None:
    import uvicorn

    uvicorn.run(make_app(layout, host), host=host, port=port, log_level="warning")

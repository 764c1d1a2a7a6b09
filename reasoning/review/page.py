"""The review page's HTML, rendered by Jinja2 with autoescaping: every value from the run or the database is
escaped, so a sample that contains `<script>` or HTML shows as text. The page's only script and style carry a
per-response nonce that the Content-Security-Policy requires, a second wall against injection."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape
from markupsafe import Markup

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#283040;color:#eee;padding:8px 16px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
header a{color:#9cf} header form{display:inline} main{max-width:1100px;margin:0 auto;padding:12px 16px}
pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #ddd;padding:8px;margin:4px 0 10px}
.ok{color:#070;font-weight:600} .bad{color:#b00;font-weight:600} .muted{color:#777}
.answers{display:flex;gap:12px} .answers>div{flex:1;min-width:0}
button{font:inherit;padding:4px 12px;margin:2px} kbd{border:1px solid #999;border-radius:3px;padding:0 3px;font-size:12px}
header a.on{font-weight:700;color:#fff} .row{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
textarea{width:100%;font:13px monospace} table{border-collapse:collapse} td,th{padding:2px 8px;border-bottom:1px solid #ddd}
.flash{background:#ffd;border:1px solid #cc8;padding:6px 10px}
"""

SCRIPT = """
document.addEventListener('keydown', function (e) {
  const t = e.target.tagName;
  if (t === 'TEXTAREA' || t === 'INPUT' || t === 'SELECT' || e.ctrlKey || e.metaKey || e.altKey) return;
  const click = function (id) { const b = document.getElementById(id); if (b) { e.preventDefault(); b.click(); } };
  const focus = function (id) { const f = document.getElementById(id); if (f) { e.preventDefault(); f.focus(); } };
  if (e.key === 'a') click('accept');
  else if (e.key === 'r') focus('reason');
  else if (e.key === 'e') focus('answer');
  else if (e.key === '1') click('pick-a');
  else if (e.key === '2') click('pick-b');
  else if (e.key === 's' || e.key === 'j') click('skip');
});
"""

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mixloom review{% if item %} · {{ item.id }}{% endif %}</title>
<style nonce="{{ nonce }}">{{ style }}</style></head><body>
<header>
  <strong>mixloom review</strong> <span>{{ run }}</span>
  {% if reviewer %}<span>reviewer <b id="reviewer">{{ reviewer }}</b></span>
  <span id="progress">you: {{ progress.mine }}/{{ progress.total }}
    <progress value="{{ progress.mine }}" max="{{ progress.total }}"></progress>
    · any reviewer: {{ progress.any }} · disagreements: {{ progress.disagreements }}</span>
  {% endif %}
  <span>
  {% for f in filters %}<a href="/next?filter={{ f }}&task={{ task | urlencode }}"{% if f == filter %} class="on"{% endif %}>{{ f }}</a> {% endfor %}
  · task: <a href="/next?filter={{ filter }}">all</a>
  {% for t in tasks %}<a href="/next?filter={{ filter }}&task={{ t | urlencode }}"{% if t == task %} class="on"{% endif %}>{{ t }}</a> {% endfor %}
  </span>
</header>
<main>
{% if message %}<p class="flash">{{ message }}</p>{% endif %}
{% block body %}{% endblock %}
<h3>Agreement</h3>
<table id="agreement"><tr><th>reviewers</th><th>Cohen's κ</th><th>items</th></tr>
{% for pair, v in agreement.cohen.items() %}<tr><td>{{ pair }}</td><td>{{ fmt(v.kappa) }}</td><td>{{ v['items'] }}</td></tr>{% endfor %}
<tr><td>all (Fleiss' κ)</td><td id="fleiss">{{ fmt(agreement.fleiss.kappa) }}</td><td>{{ agreement.fleiss['items'] }}</td></tr>
</table>
<p class="muted">Keys: <kbd>a</kbd> accept · <kbd>r</kbd> reject (type a reason, Enter) · <kbd>e</kbd> edit the answer
· <kbd>1</kbd>/<kbd>2</kbd> pick A/B · <kbd>s</kbd> skip</p>
</main>
<script nonce="{{ nonce }}">{{ script }}</script>
</body></html>
"""

LOGIN = """{% extends "base" %}{% block body %}
<form method="post" action="/reviewer"><input type="hidden" name="token" value="{{ token }}">
<label>Your reviewer id: <input id="name" name="name" required maxlength="64" pattern="[A-Za-z0-9_.@-]+" autofocus></label>
<button id="start" type="submit">start reviewing</button></form>
{% endblock %}"""

DONE = """{% extends "base" %}{% block body %}
<p id="done">Nothing left under this filter ({{ filter }}{% if task %}, {{ task }}{% endif %}).</p>
{% endblock %}"""

ERROR = """{% extends "base" %}{% block body %}
<p id="error">Nothing was recorded. <a href="/next?filter={{ filter }}&task={{ task | urlencode }}">back to reviewing</a></p>
{% endblock %}"""

ITEM = """{% extends "base" %}{% macro hidden() %}<input type="hidden" name="token" value="{{ token }}">
<input type="hidden" name="item" value="{{ item.id }}"><input type="hidden" name="filter" value="{{ filter }}">
<input type="hidden" name="task" value="{{ task }}">{% endmacro %}{% block body %}
<p><b>{{ item.kind }}</b> · task <b>{{ item.task }}</b> · problem <code>{{ item.problem_id }}</code>
 · item {{ position }} of {{ total }}
 {% if mine %}<span class="muted"> · your last decision: <span id="mine">{{ mine.action }}</span>{% if mine.reason %} ({{ mine.reason }}){% endif %}</span>{% endif %}</p>
<h3>Problem</h3><pre id="problem">{{ item.problem }}</pre>
{% if item.kind == "sample" %}{% set a = item.answers[0] %}
<h3>Answer <span class="{{ 'ok' if a.verdict else 'bad' }}" id="verdict">{{ 'verified' if a.verdict else 'failed' }}</span>
 <span class="muted" id="checker-reason">{{ a.reason }}</span></h3>
<pre id="answer-text">{{ a.text }}</pre>
<div class="row">
<form method="post" action="/decide">{{ hidden() }}<input type="hidden" name="action" value="accept">
<button id="accept" type="submit">accept (a)</button></form>
<form method="post" action="/decide">{{ hidden() }}<input type="hidden" name="action" value="reject">
<input id="reason" name="reason" required maxlength="2000" placeholder="reason for rejecting (r, then Enter)" size="44">
<button id="reject" type="submit">reject</button></form>
</div>
<form method="post" action="/decide">{{ hidden() }}<input type="hidden" name="action" value="edit">
<p class="muted">Edit the answer (e), then save; the original stays in the log as what was corrected.</p>
<textarea id="answer" name="answer" rows="4" required>{{ a.text }}</textarea>
<input name="reason" maxlength="2000" placeholder="what was wrong (optional)" size="44">
<button id="edit" type="submit">save edited answer</button></form>
{% else %}
<form method="post" action="/decide">{{ hidden() }}<input type="hidden" name="action" value="pick">
<div class="answers">{% for a in item.answers %}{% set k = "ab"[loop.index0] %}<div>
<h3>{{ k | upper }} <span class="{{ 'ok' if a.verdict else 'bad' }}">{{ 'verified' if a.verdict else 'failed' }}</span>
 <span class="muted">{{ a.reason }}</span></h3>
<pre id="answer-{{ k }}">{{ a.text }}</pre>
<button id="pick-{{ k }}" name="pick" value="{{ k }}" type="submit">{{ k | upper }} is better ({{ loop.index }})</button>
</div>{% endfor %}</div></form>
{% endif %}
<p><a id="skip" href="/next?filter={{ filter }}&task={{ task | urlencode }}&after={{ item.id | urlencode }}">skip (s)</a></p>
{% endblock %}"""

ENV = Environment(
    loader=DictLoader({"base": BASE, "login": LOGIN, "done": DONE, "error": ERROR, "item": ITEM}),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def fmt(k: float | None) -> str:
    return "n/a" if k is None else f"{k:.3f}"


def render(name: str, **ctx) -> str:
    # the two constants are this module's own text (not data), so they go in unescaped
    return ENV.get_template(name).render(style=Markup(STYLE), script=Markup(SCRIPT), fmt=fmt, **ctx)

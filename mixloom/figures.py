"""Small helpers the stages' report sections share: matplotlib without a display, PNG bytes, HTML tables."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from mixloom.stage import Section


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any, dpi: int = 110) -> bytes:
    """A finished figure as PNG bytes (laid out, then closed so that pyplot does not keep it)."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    return buf.getvalue()


def table(rows: list[list[Any]], header: list[str]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def add_figure(section: Section, fig: Any, name: str, caption: str) -> None:
    """Render `fig` into the section: embedded in its HTML, and kept as `name` for the PNG beside the page."""
    data = png(fig)
    section.figures[name] = data
    b64 = base64.b64encode(data).decode()
    section.html += (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )

"""The report page (one self-contained HTML file, images linked relatively) and its Markdown
summary, from frames and strings. Every text is escaped here."""

from __future__ import annotations

from html import escape

import polars as pl

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430;
       max-width: 1320px; margin: 2rem auto; padding: 0 1.2rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.4rem; border-bottom: 1px solid #d9dde3; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.sub, .note, figcaption { color: #5a6270; font-size: .9rem; }
nav a { margin-right: .9rem; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e6e9ed; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.hl td { background: #fde8e6; }
caption { caption-side: bottom; text-align: left; color: #5a6270; font-size: .85rem; padding-top: .3rem; }
.na { color: #8a5a00; font-style: italic; }
.status { padding: .1rem .5rem; border-radius: .3rem; font-weight: 600; }
.completed { background: #dcf3e3; color: #17622f; } .failed { background: #fde0dd; color: #9b1c12; }
.running { background: #fff1cc; color: #7a5600; }
.figs { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1.2rem; }
figure { margin: 0; } figure img { width: 100%; height: auto; border: 1px solid #e6e9ed; }
.ecg { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.2rem; align-items: start; }
.ecg figure { position: sticky; top: .5rem; } .ecg pre { margin: 0; }
@media (max-width: 900px) { .ecg { grid-template-columns: 1fr; } }
pre { white-space: pre-wrap; background: #f6f7f9; border: 1px solid #e6e9ed; padding: .8rem;
      font-size: .85rem; line-height: 1.4; max-height: 60rem; overflow: auto; }
"""
NUM = ' class="num"'


def cell(value) -> str:
    """A value as table text: thousands separators, 3 significant digits for floats, lists joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "NaN" if value != value else f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return str(value)


def _text(value, spec: str | None) -> str:
    return format(value, spec) if spec and value is not None else cell(value)


def table(df: pl.DataFrame, *, caption: str | None = None, limit: int | None = None,
          highlight: str | None = None, formats: dict[str, str] | None = None) -> str:
    """``df`` as an HTML table: numbers right-aligned; rows where the boolean column
    ``highlight`` is true are marked (the column itself is not shown); ``formats``: column ->
    format spec (e.g. ``".0%"``); beyond ``limit`` rows, the caption says how many are left out."""
    formats = formats or {}
    shown = df.head(limit) if limit else df
    columns = [c for c in df.columns if c != highlight]
    numeric = {c for c in columns if df.schema[c].is_numeric()}
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    rows = []
    for row in shown.iter_rows(named=True):
        cls = ' class="hl"' if highlight and row[highlight] else ""
        tds = "".join(f"<td{NUM if c in numeric else ''}>{escape(_text(row[c], formats.get(c)))}</td>" for c in columns)
        rows.append(f"<tr{cls}>{tds}</tr>")
    notes = [caption] if caption else []
    if shown.height < df.height:
        notes.append(f"{df.height - shown.height:,} more rows not shown.")
    cap = f"<caption>{escape(' '.join(notes))}</caption>" if notes else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def fields(pairs: list[tuple[str, str]]) -> str:
    """Label/value pairs as a two-column table (values already HTML)."""
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in pairs) + "</table>"


def status(value: str) -> str:
    return f'<span class="status {escape(value)}">{escape(value)}</span>'


def unavailable(why: str) -> str:
    return f'<p class="na">not available: {escape(why)}</p>'


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def subsection(title: str, body: str) -> str:
    return f"<h3>{escape(title)}</h3>{body}"


def figure(src: str, caption: str, alt: str) -> str:
    """An image by its relative path (a link to it at full size), with its caption."""
    return (f'<figure><a href="{escape(src)}"><img src="{escape(src)}" alt="{escape(alt)}"></a>'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def figures(items: list[str]) -> str:
    return f'<div class="figs">{"".join(items)}</div>'


def ecg_with_text(img: str, text: str) -> str:
    """A rendered ECG (figure HTML) beside its interpretation, shown verbatim."""
    return f'<div class="ecg">{img}<pre>{escape(text)}</pre></div>'


def anchor(title: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")


def page(title: str, subtitle: str, sections: list[tuple[str, str]]) -> str:
    """The whole page: title, subtitle, a table of contents and the numbered sections
    (``(heading, body HTML)``)."""
    nav = "".join(f'<a href="#{anchor(h)}">{i}. {escape(h)}</a>' for i, (h, _) in enumerate(sections, 1))
    body = "".join(f'<section id="{anchor(h)}"><h2>{i}. {escape(h)}</h2>{b}</section>'
                   for i, (h, b) in enumerate(sections, 1))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f'<h1>{escape(title)}</h1><p class="sub">{escape(subtitle)}</p><nav>{nav}</nav>{body}</body></html>\n')


def markdown_table(df: pl.DataFrame) -> str:
    """``df`` as a Markdown table (numbers with thousands separators)."""
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v).replace("|", "\\|") for v in row) + " |" for row in df.iter_rows()]
    return "\n".join(lines)


def markdown(title: str, blocks: list[tuple[str, str]], path: str) -> str:
    """The short summary: a heading, ``(label, Markdown)`` blocks and where the report is."""
    parts = [f"# {title}"] + [f"**{label}**\n\n{text}" for label, text in blocks]
    return "\n\n".join(parts + [f"Report: `{path}`"]) + "\n"

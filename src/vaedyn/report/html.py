"""An executed notebook as one self-contained HTML page: markdown cells rendered, code hidden, every
output kept (tables as HTML, figures as embedded PNG).

Written here rather than with nbconvert's HTMLExporter: nbconvert is not among the packages the
book's environment pins (jupyter-book renders through Sphinx, a whole site rather than one page),
and a report needs only markdown, text, tables and PNG figures. Markdown goes through markdown-it-py,
the parser myst-nb already installs.
"""
from __future__ import annotations

import html
import re

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")   # colour codes in tracebacks and progress text
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
pre.error { background: #fdecec; }
img { max-width: 100%; }
"""


def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def output_html(output: dict, markdown) -> str:
    """One output of a code cell, in the richest form it has."""
    kind = output.get("output_type")
    if kind == "stream":
        return f"<pre>{html.escape(ANSI.sub('', _text(output.get('text', ''))))}</pre>"
    if kind == "error":
        trace = "\n".join(output.get("traceback") or [f"{output.get('ename')}: {output.get('evalue')}"])
        return f'<pre class="error">{html.escape(ANSI.sub("", trace))}</pre>'
    data = output.get("data", {})
    if "text/html" in data:
        return _text(data["text/html"])
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{_text(data["image/png"]).strip()}" alt="figure">'
    if "image/svg+xml" in data:
        return _text(data["image/svg+xml"])
    if "text/markdown" in data:
        return markdown.render(_text(data["text/markdown"]))
    if "text/plain" in data:
        return f"<pre>{html.escape(_text(data['text/plain']))}</pre>"
    return ""


def notebook_html(notebook, title: str = "vaedyn report") -> str:
    """The page of an executed notebook (an nbformat node or its dict): markdown cells and the outputs of
    code cells, in order."""
    markdown = _markdown()
    parts = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append(markdown.render(_text(cell["source"])))
        elif cell["cell_type"] == "code":
            parts.extend(output_html(output, markdown) for output in cell.get("outputs", []))
    head = f'<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n<style>{STYLE}</style>'
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{head}\n</head>\n<body>\n' + "\n".join(parts)
            + "\n</body>\n</html>\n")

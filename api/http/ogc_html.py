"""The minimal HTML of the OGC API documents (Features Part 1 'html' class): any document as a
page of its title, links, collections or features; everything escaped, no script, no CDN."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = (
    "body{font-family:sans-serif;margin:1rem;max-width:70rem}"
    "table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%}"
    "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;white-space:nowrap}"
    "pre{white-space:pre-wrap;word-break:break-all}"
)


def _links(links: list[dict[str, Any]]) -> str:
    items = "".join(
        f'<li><a href="{escape(link["href"])}">{escape(str(link.get("title") or link["rel"]))}'
        f"</a> <small>({escape(link['rel'])})</small></li>"
        for link in links
        if not link.get("templated")
    )
    return f"<h2>链接 Links</h2><ul>{items}</ul>" if items else ""


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_link(collection: dict[str, Any]) -> str:
    links = collection["links"]
    return str(next(link["href"] for link in links if link.get("type") == "text/html"))


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def render(title: str, doc: dict[str, Any]) -> str:
    """The page of an OGC API document."""
    parts = [f"<h1>{escape(title)}</h1>"]
    if doc.get("description"):
        parts.append(f"<p>{escape(str(doc['description']))}</p>")
    if "numberMatched" in doc:
        parts.append(
            f"<p>共 {doc['numberMatched']} 个要素，本页 {doc['numberReturned']} 个 "
            f"(matched {doc['numberMatched']}, returned {doc['numberReturned']})</p>"
        )
    if doc.get("notice"):
        parts.append(f"<p><strong>{escape(doc['notice'])}</strong></p>")
    if "collections" in doc:
        items = "".join(
            f'<li><a href="{escape(_html_link(c))}">{escape(c["title"])}</a> '
            f"<small>{escape(c['id'])}</small><br>{escape(c['description'])}</li>"
            for c in doc["collections"]
        )
        parts.append(f"<ul>{items}</ul>")
    elif "features" in doc:
        features = doc["features"]
        columns = ["id", *(features[0]["properties"] if features else [])]
        rows = [{"id": f["id"], **f["properties"]} for f in features]
        parts.append(_table(rows, columns))
    elif doc.get("type") == "Feature":
        parts.append(_table([{"id": doc["id"], **doc["properties"]}], ["id", *doc["properties"]]))
    elif "conformsTo" in doc:
        parts.append("<ul>" + "".join(f"<li>{escape(c)}</li>" for c in doc["conformsTo"]) + "</ul>")
    else:
        shown = {k: v for k, v in doc.items() if k != "links"}
        parts.append(f"<pre>{escape(json.dumps(shown, ensure_ascii=False, indent=1))}</pre>")
    parts.append(_links(doc.get("links", [])))
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )

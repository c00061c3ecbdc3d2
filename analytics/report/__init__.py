"""The analyst's HTML report: portfolio figures, segment table with actions, charts as inline SVG.

``write_report(engine, config, as_of, path)`` renders the stored analytics run of ``as_of`` (or
computes one first) into one self-contained HTML file: no script, no external resource, so it
opens offline and can be mailed. All data goes through Jinja2 autoescaping; the charts are SVG
produced by matplotlib, which escapes their text.
"""

from __future__ import annotations

from analytics.report.render import ReportResult, render_report, write_report

__all__ = ["ReportResult", "render_report", "write_report"]

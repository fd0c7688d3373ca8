"""The report page after a storm (``/reports``, ``/reports/{campaign_id}``) and its export as one
self-contained HTML file (``/reports/{campaign_id}/export.html``, ``python run.py report export``): the same
template body and the same server-drawn SVG charts, the export with its CSS inline and no script, so it opens
anywhere without a request to any host. The data comes from ``scheduler.service.report``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..platforms.registry import display_name
from ..problems import UserError
from ..service.report import SHOWN_STATES, Report, build_report
from ..store import LogFilter, Store
from .charts import BAR_COLOUR, Series, bar_chart, platform_colour
from .keys import CLOCK, STORE, blocking

HERE = Path(__file__).parent
EXPORT_STYLES = (HERE / "static" / "dashboard.css", HERE / "static" / "report.css")


def report_context(report: Report) -> dict[str, Any]:
    """What both report templates render: the report, its charts, and the helpers they format with."""
    platforms = list(report.timeline.counts)
    timeline_labels = [f"{start:%H:%M:%S}" for start in report.timeline.starts]
    return {
        "report": report, "states": [state for state in SHOWN_STATES if report.totals.get(state)],
        "platform_name": display_name, "when": when, "seconds": seconds, "colour": platform_colour,
        "platforms": platforms,
        "lateness_chart": bar_chart(
            "lateness-chart", "Lateness of the sent posts (posts per lateness range)",
            [label for label, _ in report.lateness.bins],
            [Series("posts", tuple(count for _, count in report.lateness.bins), BAR_COLOUR)]),
        "timeline_chart": bar_chart(
            "timeline-chart", f"Posts sent per {seconds(report.timeline.width_seconds)} from the storm's start, "
            "by platform", timeline_labels,
            [Series(display_name(platform), report.timeline.counts[platform], platform_colour(platform, number))
             for number, platform in enumerate(platforms)],
            label_every=max(len(timeline_labels) // 12, 1)),
    }


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "—"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 120:
        return f"{value / 60:.0f} min" if value % 60 == 0 else f"{value / 60:.1f} min"
    return f"{value:.1f} s" if value < 10 and not float(value).is_integer() else f"{value:.0f} s"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("scheduler.dashboard", "templates"),
                              autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                              undefined=jinja2.StrictUndefined)


def render_export(report: Report) -> str:
    """The report as one HTML file: CSS inline, charts as inline SVG, no script, no request to any host
    (the posts' own links are the only addresses in it)."""
    styles = "\n".join(path.read_text(encoding="utf-8") for path in EXPORT_STYLES)
    return _environment().get_template("report_export.html").render(styles=styles, **report_context(report))


def export_report(store: Store, campaign_id: str, path: Path, *, now: datetime | None = None) -> Report:
    """Write the campaign's report to ``path`` as one self-contained HTML file.

    :raises UserError: no such campaign, nothing to report, or the file cannot be written.
    """
    report = build_report(store, campaign_id, now=now)
    try:
        path.write_text(render_export(report), encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write the report to {path}: {error.strerror or error}; choose another "
                        "file with -o") from None
    return report


# --- the pages --------------------------------------------------------------------------------------------
def _campaigns(store: Store) -> list[dict[str, Any]]:
    """Every campaign with posts, newest storm first, with its counts by state."""
    found: dict[str, dict[str, Any]] = {}
    for row in store.posts(LogFilter()):
        entry = found.setdefault(row.campaign_id, {"id": row.campaign_id, "start": row.planned_at, "counts": {}})
        entry["start"] = max(entry["start"], row.planned_at)
        entry["counts"][row.state] = entry["counts"].get(row.state, 0) + 1
    return sorted(found.values(), key=lambda entry: entry["start"], reverse=True)


@aiohttp_jinja2.template("reports.html")
async def reports_page(request: web.Request) -> dict[str, Any]:
    return {"campaigns": await blocking(_campaigns, request.app[STORE]), "when": when}


async def _report(request: web.Request) -> Report:
    campaign_id = request.match_info["campaign_id"]
    try:
        return await blocking(build_report, request.app[STORE], campaign_id, now=request.app[CLOCK]())
    except UserError as error:
        raise web.HTTPNotFound(text=str(error)) from None


@aiohttp_jinja2.template("report.html")
async def report_page(request: web.Request) -> dict[str, Any]:
    return report_context(await _report(request))


async def report_export(request: web.Request) -> web.Response:
    report = await _report(request)
    name = "".join(char if char.isalnum() or char in "-_" else "-" for char in report.campaign_id)
    return web.Response(text=render_export(report), content_type="text/html", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="report-{name}.html"'})


def register(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page, name="reports")
    app.router.add_get("/reports/{campaign_id}", report_page, name="report")
    app.router.add_get("/reports/{campaign_id}/export.html", report_export, name="report-export")

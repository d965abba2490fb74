"""The daily usage chart of a bill page, drawn on the server as inline SVG.

``daily_usage_chart(days, year, month)`` takes ``billing.bills.daily_usage`` rows (calls per
API per Shanghai day) and returns stacked bars, one per day of the month and one colour per
API, with a y axis of round numbers, a tooltip per bar segment and a legend with each API's
calls in the month. No script and no external asset is needed to show it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.pricing.calendar import days_in_month

PALETTE = (
    "#0b63ce",
    "#e8710a",
    "#2e7d32",
    "#9334e6",
    "#c62828",
    "#00838f",
    "#f5b700",
    "#6d4c41",
    "#d81b60",
    "#546e7a",
)
WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 34


@dataclass(frozen=True)
class LegendEntry:
    api: str
    colour: str
    calls: int
    failed: int

    @property
    def calls_text(self) -> str:
        return f"{self.calls:,}"

    @property
    def failed_text(self) -> str:
        return f"{self.failed:,}"


@dataclass(frozen=True)
class UsageChart:
    """The chart as SVG markup, its legend, and the same numbers as table rows
    (day, calls per API in legend order, day total; counts written with separators)."""

    svg: SafeString
    legend: tuple[LegendEntry, ...]
    table: tuple[tuple[str, tuple[str, ...], str], ...]
    total_calls: int


def nice_ceiling(value: int, ticks: int = 4) -> tuple[int, int]:
    """A round upper bound for an axis reaching ``value``, and its step: 1, 2, 2.5 or 5
    times a power of ten, split into at most ``ticks`` steps."""
    if value <= 0:
        return ticks, 1
    rough = value / ticks
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= rough and step == int(step):
            break
    step = max(int(step), 1)
    return step * math.ceil(value / step), step


def _compact(value: int) -> str:
    return f"{value:,}"


def daily_usage_chart(days: Sequence[dict[str, Any]], year: int, month: int) -> UsageChart | None:
    """Stacked bars of calls per API per day of the month; None when there were no calls."""
    per_day: dict[int, dict[str, int]] = defaultdict(dict)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in days:
        day = int(row["day"][8:10])
        per_day[day][row["api"]] = per_day[day].get(row["api"], 0) + row["calls"]
        totals[row["api"]][0] += row["calls"]
        totals[row["api"]][1] += row["failed"]
    if not any(calls for calls, _failed in totals.values()):
        return None
    apis = sorted(totals, key=lambda api: (-totals[api][0], api))
    colours = {api: PALETTE[index % len(PALETTE)] for index, api in enumerate(apis)}
    day_count = days_in_month(year, month)
    day_totals = {day: sum(per_day[day].values()) for day in range(1, day_count + 1)}
    top, step = nice_ceiling(max(day_totals.values()))

    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / day_count
    bar = slot * 0.72

    def y(value: float) -> float:
        return TOP + plot_height - plot_height * value / top

    label = _("Calls per API per day, %(month)s") % {"month": f"{year:04d}-{month:02d}"}
    parts = [
        f'<svg class="usage-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
    ]
    for tick in range(0, top + 1, step):
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{ty + 3.5:.1f}" text-anchor="end">'
            f"{_compact(tick)}</text>"
        )
    for day in range(1, day_count + 1):
        x = LEFT + slot * (day - 1) + (slot - bar) / 2
        base = 0
        for api in apis:
            calls = per_day[day].get(api, 0)
            if not calls:
                continue
            top_y, bottom_y = y(base + calls), y(base)
            tip = ngettext(
                "%(date)s · %(api)s: %(calls)s call",
                "%(date)s · %(api)s: %(calls)s calls",
                calls,
            ) % {"date": f"{year:04d}-{month:02d}-{day:02d}", "api": api, "calls": f"{calls:,}"}
            parts.append(
                f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{bar:.1f}" '
                f'height="{max(bottom_y - top_y, 0.5):.1f}" fill="{colours[api]}" '
                f'data-api="{escape(api)}" data-day="{day}" data-calls="{calls}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            base += calls
        parts.append(
            f'<text class="day" x="{LEFT + slot * (day - 0.5):.1f}" y="{HEIGHT - BOTTOM + 14}" '
            f'text-anchor="middle">{day}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
        f'<text class="axis-label" x="{LEFT + plot_width / 2:.1f}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">{escape(_("Day of the month (Asia/Shanghai)"))}</text>'
        "</svg>"
    )
    legend = tuple(LegendEntry(api, colours[api], *totals[api]) for api in apis)
    table = tuple(
        (
            f"{year:04d}-{month:02d}-{day:02d}",
            tuple(_compact(per_day[day].get(api, 0)) for api in apis),
            _compact(day_totals[day]),
        )
        for day in range(1, day_count + 1)
        if day_totals[day]
    )
    return UsageChart(
        svg=mark_safe("".join(parts)),  # noqa: S308 - every value inside is escaped or numeric
        legend=legend,
        table=table,
        total_calls=sum(calls for calls, _failed in totals.values()),
    )

"""The queues page's charts, drawn on the server as inline SVG (no JavaScript, no CDN, nothing to load).

Per queue: jobs succeeded and failed per minute over the last hour and per hour over the last day, and
run time and queue wait p50/p95 per minute over the last hour; per job type over the last day: success
rate and average run time. Everything comes from the rollups (``jobs.rollups``' selectors: three grouped
reads of a range of an index per page view: the last hour's minute rows, the last day's hour rows), never
from the ledger, so the page costs the same at a million jobs as at ten.

Percentiles come from the rollup's duration buckets, so each is shown as the bucket it falls in
("< 250 ms": the p95 lies in [100 ms, 250 ms)). Text in the pictures (queue and type names) is escaped;
everything else in them is numbers formatted here.
"""

import math
from datetime import timedelta
from html import escape

from django.conf import settings
from django.utils import timezone
from django.utils.safestring import mark_safe

from jobs import rollups

WIDTH, HEIGHT = 340, 140
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 22, 20
SUCCEEDED, FAILED, P50, P95 = "#2e7d32", "#c62828", "#1565c0", "#ef6c00"
OVER_LAST_BOUND_MS = 600_000  # where "5 min and more" is drawn


def queue_charts(now=None) -> dict:
    """The queues page's context for ``admin/jobs/_charts.html``: ``{"queue_charts": {...}}``."""
    now = now or timezone.now()
    this_minute = now.replace(second=0, microsecond=0)
    minutes = [this_minute - timedelta(minutes=59 - i) for i in range(60)]
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    hours = [this_hour - timedelta(hours=23 - i) for i in range(24)]

    by_minute, by_hour = {}, {}
    for row in rollups.queue_minutes(minutes[0]):
        by_minute.setdefault(row["queue"], {})[row["minute"]] = row
    for row in rollups.queue_hours(hours[0]):
        by_hour.setdefault(row["queue"], {})[row["hour"]] = row

    queues = []
    for name in sorted(by_hour):
        per_minute, per_hour = by_minute.get(name, {}), by_hour[name]
        minute_rows = [per_minute.get(m) for m in minutes]
        hour_rows = [per_hour.get(h) for h in hours]
        queues.append({
            "name": name,
            "hour": summary(_total(minute_rows)),
            "day": summary(_total(hour_rows)),
            "charts": [
                outcome_bars(f"{name}: last hour, per minute", minutes, minute_rows, "%H:%M"),
                outcome_bars(f"{name}: last 24 hours, per hour", hours, hour_rows, "%H:00"),
                percentile_lines(f"{name}: run time, last hour", minutes, minute_rows, rollups.RUN_BUCKETS),
                percentile_lines(f"{name}: queue wait, last hour", minutes, minute_rows, rollups.WAIT_BUCKETS),
            ],
        })
    types = []
    for row in rollups.type_totals(hours[0]):
        ended = row["succeeded"] + row["dead"]
        rate = row["succeeded"] / ended if ended else None
        types.append({**summary(row), "job_type": row["job_type"], "rate": rate,
                      "rate_label": f"{rate:.1%}" if rate is not None else "–",
                      "rate_bar": rate_bar(rate, row["job_type"])})
    return {"queue_charts": {
        "queues": queues, "types": types, "interval": settings.JOBS_ROLLUP_INTERVAL,
        "since": hours[0], "now": now, "counted_through": None if queues else rollups.counted_through(),  # for the empty page's words only
    }}


# --- numbers ----------------------------------------------------------------------------------------------

def _total(rows) -> dict:
    total = dict.fromkeys(rollups.COUNTS, 0)
    for row in rows:
        if row:
            for name in rollups.COUNTS:
                total[name] += row[name]
    return total


def _buckets(row, names):
    return [row[name] for name in names] if row else []


def summary(row) -> dict:
    """Counts and the p50/p95 (as bucket labels) and average of run time and queue wait of ``row``."""
    return {
        "succeeded": row["succeeded"], "failed": row["failed"], "dead": row["dead"],
        "run_p50": percentile_label(_buckets(row, rollups.RUN_BUCKETS), 0.5),
        "run_p95": percentile_label(_buckets(row, rollups.RUN_BUCKETS), 0.95),
        "wait_p50": percentile_label(_buckets(row, rollups.WAIT_BUCKETS), 0.5),
        "wait_p95": percentile_label(_buckets(row, rollups.WAIT_BUCKETS), 0.95),
        "avg_run": format_ms(row["run_ms"] / row["run_count"]) if row["run_count"] else "–",
        "avg_run_ms": row["run_ms"] / row["run_count"] if row["run_count"] else None,
    }


def format_ms(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 10_000:
        return f"{ms / 1000:.1f} s"
    if ms < 120_000:
        return f"{ms / 1000:.0f} s"
    return f"{ms / 60_000:.0f} min"


def percentile_label(buckets, fraction) -> str:
    index = rollups.percentile_bucket(buckets, fraction) if buckets else None
    if index is None:
        return "–"
    bound = rollups.bucket_bound(index)
    return f"≥ {format_ms(rollups.DURATION_BUCKETS_MS[-1])}" if bound is None else f"< {format_ms(bound)}"


def _plotted_ms(index):
    bound = rollups.bucket_bound(index)
    return OVER_LAST_BOUND_MS if bound is None else bound


# --- pictures ---------------------------------------------------------------------------------------------

def _frame(title, body, *, kind):
    """The SVG around ``body``: axes, the caption (``title`` after its "queue: " prefix, which the page's
    heading already says) and ``title`` whole for screen readers and tooltips."""
    caption = title.split(": ", 1)[-1]
    return mark_safe(
        f'<svg class="chart chart-{kind}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="{LEFT}" y="13" font-size="11" font-weight="bold" fill="#333">{escape(caption)}</text>'
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#999"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#999"/>'
        f"{body}</svg>"
    )


def _x_labels(slots, fmt, slot_width):
    marks = []
    for i, anchor in ((0, "start"), (len(slots) // 2, "middle"), (len(slots) - 1, "end")):  # the ends inside the frame
        x = LEFT + (i + (0 if anchor == "start" else 1 if anchor == "end" else 0.5)) * slot_width
        marks.append(f'<text x="{x:.1f}" y="{HEIGHT - 6}" font-size="9" fill="#666" text-anchor="{anchor}">'
                     f"{slots[i]:{fmt}}</text>")
    return "".join(marks)


def _y_label(y, text):
    return (f'<text x="{LEFT - 4}" y="{y + 3:.1f}" font-size="9" fill="#666" text-anchor="end">{text}</text>'
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eee"/>')


def outcome_bars(title, slots, rows, fmt):
    """Stacked bars per slot: succeeded (green) under failed attempts (red); a tooltip per slot."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot_w = plot_w / len(slots)
    peak = max([(row["succeeded"] + row["failed"]) if row else 0 for row in rows] + [1])
    parts = [_y_label(TOP, str(peak)), _y_label(HEIGHT - BOTTOM, "0")]
    for i, (slot, row) in enumerate(zip(slots, rows)):
        if not row or not (row["succeeded"] or row["failed"]):
            continue
        x, base = LEFT + i * slot_w + 0.5, HEIGHT - BOTTOM
        ok_h, bad_h = plot_h * row["succeeded"] / peak, plot_h * row["failed"] / peak
        tip = f"{slot:{fmt}}: {row['succeeded']} succeeded, {row['failed']} failed ({row['dead']} dead)"
        parts.append(f'<g class="bar"><title>{tip}</title>'
                     f'<rect x="{x:.1f}" y="{base - ok_h:.1f}" width="{max(slot_w - 1, 1):.1f}" height="{ok_h:.1f}" '
                     f'fill="{SUCCEEDED}"/>'
                     f'<rect x="{x:.1f}" y="{base - ok_h - bad_h:.1f}" width="{max(slot_w - 1, 1):.1f}" '
                     f'height="{bad_h:.1f}" fill="{FAILED}"/></g>')
    parts.append(_x_labels(slots, fmt, slot_w))
    parts.append(_legend([("succeeded", SUCCEEDED), ("failed", FAILED)]))
    return _frame(title, "".join(parts), kind="outcomes")


def percentile_lines(title, slots, rows, bucket_names):
    """p50 (blue) and p95 (orange) per slot on a log scale of milliseconds; a slot without attempts is a gap."""
    plot_w = WIDTH - LEFT - RIGHT
    slot_w = plot_w / len(slots)
    series = {0.5: [], 0.95: []}
    for row in rows:
        buckets = _buckets(row, bucket_names)
        for fraction in series:
            index = rollups.percentile_bucket(buckets, fraction) if buckets else None
            series[fraction].append(None if index is None else _plotted_ms(index))
    values = [v for line in series.values() for v in line if v is not None]
    top = 10 ** math.ceil(math.log10(max(values + [1000])))
    low = 1

    def y_of(ms):
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - math.log10(max(ms, low)) / math.log10(top))

    parts = []
    decade = 1
    while decade <= top:
        parts.append(_y_label(y_of(decade), f"{decade}ms" if decade < 1000 else f"{decade // 1000}s"))
        decade *= 100 if top > 100_000 else 10
    for fraction, colour in ((0.5, P50), (0.95, P95)):
        line, segments = [], []
        for i, value in enumerate(series[fraction]):
            if value is None:
                if line:
                    segments.append(line)
                line = []
                continue
            x = LEFT + (i + 0.5) * slot_w
            line.append(f"{x:.1f},{y_of(value):.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y_of(value):.1f}" r="1.6" fill="{colour}">'
                         f'<title>{slots[i]:%H:%M} p{round(fraction * 100)} &lt; {format_ms(value)}</title></circle>')
        if line:
            segments.append(line)
        for segment in segments:
            if len(segment) > 1:
                parts.append(f'<polyline class="p{round(fraction * 100)}" points="{" ".join(segment)}" fill="none" '
                             f'stroke="{colour}" stroke-width="1.5"/>')
    parts.append(_x_labels(slots, "%H:%M", slot_w))
    parts.append(_legend([("p50", P50), ("p95", P95)]))
    return _frame(title, "".join(parts), kind="percentiles")


def _legend(items):
    parts, x = [], WIDTH - RIGHT - 70 * len(items)
    for label, colour in items:
        parts.append(f'<rect x="{x}" y="{TOP - 10}" width="8" height="8" fill="{colour}"/>'
                     f'<text x="{x + 11}" y="{TOP - 3}" font-size="9" fill="#333">{label}</text>')
        x += 70
    return "".join(parts)


def rate_bar(rate, label):
    """A small bar: the success rate in green, the rest in red."""
    if rate is None:
        return ""
    width = 100
    ok = round(width * rate, 1)
    return mark_safe(
        f'<svg class="rate-bar" xmlns="http://www.w3.org/2000/svg" width="{width}" height="10" role="img" '
        f'aria-label="{escape(label)}: {rate:.1%} succeeded">'
        f'<rect x="0" y="0" width="{width}" height="10" fill="{FAILED}"/>'
        f'<rect x="0" y="0" width="{ok}" height="10" fill="{SUCCEEDED}"/></svg>'
    )

"""A self-contained HTML report of an :class:`~ncs.analyze.Analysis`.

One file, no external resources: inline CSS, plots as base64 PNG images drawn with matplotlib
(optional extra ``plot``; without it the report has every table and sentence but no plots).
Every string that comes from the input (patient ids, nerve and site names, extra columns) is
HTML-escaped. The report is built from whatever the analysis holds: every scheme in
``analysis.criteria`` and every column of its tables, so new schemes and columns appear
without changes here.

Layout: an overview (one row per patient, one column per scheme), then per patient each
scheme's verdict with its evidence sentence and citation, and per nerve the status under each
scheme, the sites table, the segments with each criterion's block and dispersion findings and
their reasons, a plot of amplitude and area by site with blocks marked, and the raw traces
where they were given.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ncs._version import __version__

__all__ = ["to_html", "write_html"]

NerveKey = tuple[str, str, str]

#: Columns of each table shown elsewhere in the report (not repeated in detail lists).
_NERVE_KEYS = ("patient_id", "nerve", "side")
_PATIENT_SHOWN = ("patient_id", "scheme", "verdict", "evidence", "citation")
_SITE_HIDDEN = ("patient_id", "nerve", "side", "input_row")
_SEGMENT_MEASURES = (
    ("distance_mm", "distance (mm)", "{:.0f}"),
    ("cv_m_s", "CV (m/s)", "{:.1f}"),
    ("amp_drop_pct", "amplitude drop", "{:.1f}%"),
    ("area_drop_pct", "area drop", "{:.1f}%"),
    ("dur_change_pct", "duration change", "{:+.1f}%"),
)
_BLOCK_POSITIVE = frozenset({"yes", "probable"})

_CSS = """
:root { --pos: #b3261e; --pos-bg: #fde7e4; --neg: #1e6b34; --neg-bg: #e3f4e6;
        --ind: #7a5a00; --ind-bg: #fff4d1; --line: #d0d4da; --muted: #5b6169; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       margin: 0 auto; max-width: 1150px; padding: 1.5rem; color: #1b1f24; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem;
     margin-top: 2.2rem; }
h3 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
h4 { font-size: .95rem; margin: .9rem 0 .3rem; color: var(--muted); }
.meta, .muted { color: var(--muted); font-size: .9rem; }
table { border-collapse: collapse; margin: .3rem 0 .8rem; font-size: .88rem; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left;
         vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { display: inline-block; padding: .05rem .45rem; border-radius: .3rem;
           font-weight: 600; white-space: nowrap; }
.pos { color: var(--pos); background: var(--pos-bg); }
.neg { color: var(--neg); background: var(--neg-bg); }
.ind { color: var(--ind); background: var(--ind-bg); }
.na { color: var(--muted); }
.missing { color: var(--muted); }
ul.reasons { margin: .2rem 0 .8rem; padding-left: 1.2rem; font-size: .88rem; }
ul.reasons li { margin: .15rem 0; }
.citation { font-size: .85rem; color: var(--muted); }
article.nerve { border-left: 3px solid var(--line); padding-left: .9rem; margin: 1rem 0; }
img.plot { max-width: 100%; height: auto; display: block; margin: .4rem 0; }
section.patient { page-break-before: always; }
div.scroll { overflow-x: auto; max-width: 100%; }
details { font-size: .88rem; margin: .2rem 0 .6rem; }
footer { margin-top: 3rem; font-size: .85rem; color: var(--muted);
         border-top: 1px solid var(--line); padding-top: .6rem; }
"""


def _e(value: Any) -> str:
    """HTML-escaped text of a value (quotes included, safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _cell(value: Any, fmt: str | None = None) -> str:
    """One table cell: numbers right-aligned, missing values as a muted dash."""
    if _missing(value):
        return '<td class="missing" title="missing">–</td>'
    if isinstance(value, (bool, np.bool_)):
        return f"<td>{_e('yes' if value else 'no')}</td>"
    if isinstance(value, (int, float, np.integer, np.floating)):
        if fmt is not None:
            text = fmt.format(float(value))
        elif isinstance(value, (int, np.integer)):
            text = str(int(value))
        else:
            text = f"{float(value):.4g}" if math.isfinite(float(value)) else str(value)
        return f'<td class="num">{_e(text)}</td>'
    return f"<td>{_e(value)}</td>"


def _tone(value: Any) -> str:
    """CSS class of a verdict or finding: positive, negative, indeterminate or n/a."""
    v = "" if _missing(value) else str(value)
    if v in ("indeterminate", "equivocal", "possible"):
        return "ind"
    if v in ("not_assessable", ""):
        return "na"
    if v in ("no", "normal") or v.startswith(("no_", "not_")):
        return "neg"
    return "pos"


def _badge(value: Any) -> str:
    text = "–" if _missing(value) else str(value)
    return f'<span class="verdict {_tone(value)}">{_e(text)}</span>'


def _table(header: Iterable[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _groups(df: pd.DataFrame, keys: list[str]) -> dict[Any, pd.DataFrame]:
    """Sub-frames by key value(s), computed once (keys as plain str / tuples of str)."""
    if df.empty or any(k not in df.columns for k in keys):
        return {}
    by = keys[0] if len(keys) == 1 else keys
    out: dict[Any, pd.DataFrame] = {}
    for key, group in df.groupby(by, sort=False, observed=True, dropna=False):
        if isinstance(key, tuple):
            key = tuple(str(k) for k in key)
            if len(keys) == 1:
                key = key[0]
        else:
            key = str(key)
        out[key] = group
    return out


def _criteria_info(analysis: Any) -> dict[str, Any]:
    return {str(c.id): c for c in getattr(analysis, "criteria", ())}


def _citation_html(crit: Any, fallback: Any = None) -> str:
    """Citation text of a criterion (DOI as a link), or the fallback text."""
    citation = getattr(crit, "citation", None)
    text = getattr(citation, "text", None) or fallback
    if _missing(text):
        return ""
    out = _e(text)
    doi = getattr(citation, "doi", None)
    if doi:
        out += f' doi:<a href="https://doi.org/{_e(doi)}">{_e(doi)}</a>'
    for applied in getattr(crit, "applied_in", ()) or ():
        out += f"<br>as applied in: {_e(applied.text)}"
    return out


# --------------------------------------------------------------------------------------
# Plots (matplotlib, optional)
# --------------------------------------------------------------------------------------


def _matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _img(uri: str, alt: str) -> str:
    return f'<img class="plot" alt="{_e(alt)}" src="{uri}">'


def _site_plot(sites: pd.DataFrame, segments: pd.DataFrame, findings: pd.DataFrame) -> str:
    """Amplitude and area by site (distal to proximal), adjacent-segment blocks shaded."""
    from matplotlib.figure import Figure

    ordered = sites.sort_values("site_order", kind="stable")
    x = np.arange(len(ordered))
    labels = [str(s) for s in ordered["site"]]
    position = {str(s): i for i, s in enumerate(labels)}
    fig = Figure(figsize=(6.4, 2.6))
    ax = fig.subplots()
    amp = ordered["amplitude_mv"].to_numpy(dtype=float, na_value=np.nan)
    ax.plot(x, amp, marker="o", color="tab:blue", label="amplitude (mV)")
    if "area_mvms" in ordered and ordered["area_mvms"].notna().any():
        area = ordered["area_mvms"].to_numpy(dtype=float, na_value=np.nan)
        ax2 = ax.twinx()
        ax2.plot(x, area, marker="s", ls="--", color="tab:orange", label="area (mV·ms)")
        ax2.set_ylabel("area (mV·ms)", color="tab:orange")
        ax2.set_ylim(bottom=0)
    ax.set_ylim(bottom=0)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("amplitude (mV)", color="tab:blue")
    ax.set_xlabel("stimulation site (distal → proximal)")
    if not findings.empty and "block" in findings:
        blocked = findings[
            findings["block"].astype("string").isin(list(_BLOCK_POSITIVE)).fillna(False)
            & (findings["comparison"].astype("string") == "adjacent").fillna(False)
        ]
        done: set[tuple[int, int]] = set()
        for distal, proximal in zip(
            blocked["distal_site"].astype(str), blocked["proximal_site"].astype(str), strict=True
        ):
            if distal not in position or proximal not in position:
                continue
            span = (position[distal], position[proximal])
            if span not in done:
                ax.axvspan(min(span), max(span), color="tab:red", alpha=0.12, lw=0)
                done.add(span)
                ax.text(
                    sum(span) / 2,
                    0.02,
                    "block",
                    transform=ax.get_xaxis_transform(),
                    ha="center",
                    color="tab:red",
                    fontsize=8,
                )
    ax.set_title("CMAP amplitude and area by site (shaded: block under any criterion)", fontsize=9)
    return _png(fig)


def _trace_plot(traces: Any) -> str:
    from matplotlib.figure import Figure

    from ncs.plot import plot_traces

    n = traces.to_traces().n_traces if hasattr(traces, "to_traces") else traces.n_traces
    fig = Figure(figsize=(6.4, 1.2 + 1.1 * n))
    ax = fig.subplots()
    plot_traces(traces, ax=ax)
    return _png(fig)


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


def _overview(patients: pd.DataFrame, schemes: list[str]) -> str:
    if patients.empty:
        return "<p>No patients.</p>"
    verdicts = {
        (str(p), str(s)): v
        for p, s, v in zip(
            patients["patient_id"], patients["scheme"], patients["verdict"], strict=True
        )
    }
    ids = list(dict.fromkeys(str(p) for p in patients["patient_id"]))
    rows = []
    for i, pid in enumerate(ids):
        cells = "".join(f"<td>{_badge(verdicts.get((pid, s)))}</td>" for s in schemes)
        rows.append(f'<td><a href="#p{i}">{_e(pid)}</a></td>{cells}')
    return _table(["patient", *schemes], rows)


def _patient_verdicts(rows: pd.DataFrame, crits: Mapping[str, Any]) -> str:
    extra = [c for c in rows.columns if c not in _PATIENT_SHOWN]
    out = []
    for record in rows.to_dict("records"):
        scheme = str(record.get("scheme"))
        crit = crits.get(scheme)
        title = getattr(crit, "title", "")
        details = "".join(f"<tr><th>{_e(c)}</th>{_cell(record.get(c))}</tr>" for c in extra)
        out.append(
            f'<tr><td><b>{_e(scheme)}</b><br><span class="muted">{_e(title)}</span></td>'
            f"<td>{_badge(record.get('verdict'))}</td>"
            f"<td>{_e(record.get('evidence', ''))}"
            f"<details><summary>details</summary><table>{details}</table></details></td>"
            f'<td class="citation">{_citation_html(crit, record.get("citation"))}</td></tr>'
        )
    return _table(["scheme", "verdict", "evidence", "citation"], out)


def _nerve_status(rows: pd.DataFrame) -> str:
    if rows.empty:
        return ""
    cols = [c for c in rows.columns if c not in _NERVE_KEYS]
    body = []
    for record in rows.to_dict("records"):
        cells = []
        for c in cols:
            v = record.get(c)
            cells.append(f"<td>{_badge(v)}</td>" if c in ("block", "dispersion") else _cell(v))
        body.append("".join(cells))
    return _table(cols, body)


def _sites_table(rows: pd.DataFrame) -> str:
    ordered = rows.sort_values("site_order", kind="stable") if "site_order" in rows else rows
    cols = [
        c
        for c in ordered.columns
        if c not in _SITE_HIDDEN and (c in ("site", "response") or ordered[c].notna().any())
    ]
    body = ["".join(_cell(r.get(c)) for c in cols) for r in ordered.to_dict("records")]
    return _table(cols, body)


def _has_dispersion(crit: Any) -> bool:
    """Whether a criterion defines any dispersion rule (unknown criteria: assume it does)."""
    if crit is None:
        return True
    rules = getattr(crit, "dispersion_rules", None)
    if rules is None:
        rules = getattr(crit, "dispersion", None)
    if isinstance(rules, (tuple, list)):
        return len(rules) > 0
    return rules is not None


def _segments_table(
    segs: pd.DataFrame, finds: pd.DataFrame, schemes: list[str], crits: Mapping[str, Any]
) -> tuple[str, str]:
    """The segments with each criterion's findings; and the reason sentences as a list."""
    seg_keys = ["distal_site", "proximal_site", "comparison"]
    by_segment: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
    for record in finds.to_dict("records"):
        key = tuple(str(record.get(k)) for k in seg_keys)
        by_segment.setdefault(key, {})[str(record.get("criterion"))] = record
    measures = [m for m in _SEGMENT_MEASURES if m[0] in segs.columns]
    header = ["segment", *(label for _, label, _ in measures)]
    # a criterion without a dispersion rule gets no dispersion column
    with_disp = {s: _has_dispersion(crits.get(s)) for s in schemes}
    for s in schemes:
        header += [f"{s} block", f"{s} dispersion"] if with_disp[s] else [f"{s} block"]
    rows, reasons = [], []
    for record in segs.to_dict("records"):
        key = tuple(str(record.get(k)) for k in seg_keys)
        label = f"{record.get('distal_site')} → {record.get('proximal_site')}"
        if record.get("comparison") == "distal":
            label += " (vs most distal)"
        cells = [f"<td>{_e(label)}</td>"]
        cells += [_cell(record.get(col), fmt) for col, _, fmt in measures]
        found = by_segment.get(key, {})
        for s in schemes:
            f = found.get(s, {})
            cells.append(f"<td>{_badge(f.get('block'))}</td>")
            if with_disp[s]:
                cells.append(f"<td>{_badge(f.get('dispersion'))}</td>")
        rows.append("".join(cells))
        items = "".join(
            f"<li><b>{_e(s)}</b>: {_e(found[s].get('reason', ''))}</li>"
            for s in schemes
            if s in found
        )
        if items:
            reasons.append(f"<li>{_e(label)}<ul>{items}</ul></li>")
    reason_html = f'<ul class="reasons">{"".join(reasons)}</ul>' if reasons else ""
    return _table(header, rows), reason_html


def _nerve_article(
    key: NerveKey,
    sites: pd.DataFrame | None,
    segs: pd.DataFrame | None,
    finds: pd.DataFrame | None,
    status: pd.DataFrame | None,
    schemes: list[str],
    crits: Mapping[str, Any],
    traces: Any,
    plots: bool,
) -> str:
    _, nerve, side = key
    parts = [f'<article class="nerve"><h3>{_e(nerve)} {_e(side)}</h3>']
    if status is not None and not status.empty:
        parts.append("<h4>status per scheme</h4>" + _nerve_status(status))
    if sites is not None and not sites.empty:
        parts.append("<h4>sites</h4>" + _sites_table(sites))
    if segs is not None and not segs.empty:
        table, reasons = _segments_table(
            segs, finds if finds is not None else segs[:0], schemes, crits
        )
        parts.append("<h4>segments and findings</h4>" + table + reasons)
    else:
        parts.append('<p class="muted">One stimulation site only: no segment to judge.</p>')
    if plots and sites is not None and len(sites) > 1 and "site_order" in sites:
        empty = pd.DataFrame(columns=["distal_site", "proximal_site", "criterion", "block"])
        uri = _site_plot(
            sites, segs if segs is not None else empty, finds if finds is not None else empty
        )
        parts.append(_img(uri, f"amplitude and area by site, {nerve} {side}"))
    if plots and traces is not None:
        parts.append("<h4>traces</h4>" + _img(_trace_plot(traces), f"traces, {nerve} {side}"))
    parts.append("</article>")
    return "".join(parts)


def _criteria_footer(crits: Mapping[str, Any]) -> str:
    items = []
    for cid, crit in crits.items():
        status = "verified" if getattr(crit, "verified", False) else "not verified"
        items.append(
            f"<li><b>{_e(cid)}</b> ({_e(status)}): {_e(getattr(crit, 'title', ''))}. "
            f'<span class="citation">{_citation_html(crit)}</span></li>'
        )
    return f"<ul>{''.join(items)}</ul>"


#: Largest number of patients one HTML report holds by default: a page with plots for more
#: is neither readable nor quick to write (about half a second per patient with plots).
MAX_REPORT_PATIENTS = 100


def to_html(
    analysis: Any,
    *,
    title: str | None = None,
    traces: Mapping[NerveKey, Any] | None = None,
    plots: bool = True,
    max_patients: int | None = MAX_REPORT_PATIENTS,
    progress: Any = None,
) -> str:
    """One self-contained HTML page reporting an analysis.

    Parameters
    ----------
    analysis : Analysis
        Result of :func:`ncs.analyze` (or :func:`ncs.io.from_json`).
    title : str, optional
        Page title; default ``"Nerve conduction study report"``. Escaped like all text.
    traces : mapping, optional
        Raw CMAP traces to draw, by ``(patient_id, nerve, side)``: a
        :class:`ncs.waveform.Traces` (or anything :func:`ncs.plot.plot_traces` accepts that
        carries its sampling rate).
    plots : bool, default True
        Draw the plots (needs matplotlib, ``pip install 'ncs-edx[plot]'``). Without
        matplotlib the report is written without plots and says so.
    max_patients : int or None, default :data:`MAX_REPORT_PATIENTS`
        Refuse an analysis of more patients than this (``None``: no limit); report a
        cohort a few patients at a time.
    progress : callable, optional
        Called as ``progress(done, total)`` after each patient.

    Raises
    ------
    ValidationError
        When the analysis has more than ``max_patients`` patients.

    Returns
    -------
    str
        The HTML document. It loads nothing from elsewhere: CSS is inline and plots are
        embedded PNG images.

    Notes
    -----
    Per patient: every scheme's verdict with its evidence sentence and citation. Per nerve:
    its status under each scheme, the sites, the segments with each criterion's block and
    dispersion findings and reason sentences, and the plots.

    References
    ----------
    .. [1] Katz JS, et al. Neurology 2002;58:615-620, as applied in Simon NG, et al.
       Neurology 2013;81:2116-2120.
    .. [2] Bouche P, Léger JM, et al. J Neurol Neurosurg Psychiatry 1995 (supplement).

    Examples
    --------
    >>> import ncs
    >>> from ncs.cli import demo_path
    >>> from ncs.report import to_html
    >>> result = ncs.analyze(ncs.read_sites(demo_path()))
    >>> page = to_html(result, plots=False)
    >>> page.startswith("<!DOCTYPE html>") and "conduction_block" in page
    True
    """
    title = title or "Nerve conduction study report"
    crits = _criteria_info(analysis)
    patients = analysis.patients
    schemes = list(crits) or list(dict.fromkeys(str(s) for s in patients.get("scheme", [])))
    note = ""
    if plots and not _matplotlib_available():
        plots = False
        note = (
            '<p class="muted">Plots are not shown: matplotlib is not installed '
            "(pip install 'ncs-edx[plot]').</p>"
        )
    traces = dict(traces or {})

    sites_by = _groups(analysis.sites, list(_NERVE_KEYS))
    segs_by = _groups(analysis.segments, list(_NERVE_KEYS))
    finds_by = _groups(analysis.findings, list(_NERVE_KEYS))
    status_by = _groups(analysis.nerves, list(_NERVE_KEYS))
    verdicts_by = _groups(patients, ["patient_id"])
    nerve_keys = list(dict.fromkeys([*sites_by, *status_by, *segs_by]))
    nerves_of: dict[str, list[NerveKey]] = {}
    for key in sorted(nerve_keys):
        nerves_of.setdefault(key[0], []).append(key)
    patient_ids = list(dict.fromkeys([*verdicts_by, *nerves_of]))
    order = {str(p): i for i, p in enumerate(dict.fromkeys(str(p) for p in patients["patient_id"]))}
    patient_ids.sort(key=lambda p: order.get(p, len(order)))
    if max_patients is not None and len(patient_ids) > max_patients:
        from ncs.errors import ValidationError

        raise ValidationError(
            [
                (
                    None,
                    None,
                    f"the analysis has {len(patient_ids):,} patients; one HTML report shows at "
                    f"most {max_patients:,}: report a few patients at a time (or pass "
                    "max_patients=None)",
                )
            ]
        )

    n_sites = len(analysis.sites)
    counts = (
        f"{len(patient_ids)} patient(s), {len(nerve_keys)} nerve(s), {n_sites} site(s), "
        f"{len(analysis.segments)} segment(s)"
    )
    body = [
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(counts)} · criteria: {_e(", ".join(schemes))} · '
        f"ncs {_e(analysis.meta.get('ncs_version', __version__))}</p>{note}</header>",
        "<h2>Overview</h2>",
        _overview(patients, schemes),
    ]
    for i, pid in enumerate(patient_ids):
        body.append(f'<section class="patient" id="p{i}"><h2>Patient {_e(pid)}</h2>')
        verdicts = verdicts_by.get(pid)
        if verdicts is not None:
            body.append("<h3>Verdicts</h3>" + _patient_verdicts(verdicts, crits))
        for key in nerves_of.get(pid, []):
            body.append(
                _nerve_article(
                    key,
                    sites_by.get(key),
                    segs_by.get(key),
                    finds_by.get(key),
                    status_by.get(key),
                    schemes,
                    crits,
                    traces.get(key),
                    plots,
                )
            )
        body.append("</section>")
        if progress is not None:
            progress(i + 1, len(patient_ids))
    body.append("<footer><h2>Criteria</h2>" + _criteria_footer(crits))
    body.append(
        f"<p>Generated by ncs {_e(__version__)}. Percentages are 100 × (distal − proximal) / "
        "distal; duration change is 100 × (proximal − distal) / distal. A missing measure is "
        "unknown, never zero.</p></footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def write_html(analysis: Any, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`to_html` of ``analysis`` to ``path`` (UTF-8) and return the path.

    Parameters
    ----------
    analysis : Analysis
        Result of :func:`ncs.analyze`.
    path : str or pathlib.Path
        Output file, e.g. ``report.html``.
    **kwargs
        Passed to :func:`to_html` (``title``, ``traces``, ``plots``).

    Returns
    -------
    pathlib.Path
        The file written. The page is rendered completely before the file is opened, so a
        failure leaves no half-written file.

    References
    ----------
    .. [1] Katz JS, et al. Neurology 2002;58:615-620, as applied in Simon NG, et al.
       Neurology 2013;81:2116-2120.
    """
    text = to_html(analysis, **kwargs)
    out = Path(path)
    out.write_text(text, encoding="utf-8")
    return out

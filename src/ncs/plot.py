"""Plots (optional extra ``plot``: matplotlib, imported inside the functions only).

Every function takes ``ax=`` (draws on a new figure when omitted) and returns the Axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ncs.engine import scope_mask

__all__ = [
    "PALETTE",
    "plot_agreement",
    "plot_decision_regions",
    "plot_followup",
    "plot_nerve",
    "plot_traces",
]


PALETTE: dict[str, str] = {
    "amplitude": "#0072B2",  # blue
    "area": "#009E73",  # bluish green
    "block": "#D55E00",  # vermillion
    "dispersion": "#CC79A7",  # reddish purple
    "threshold": "#555555",
}
"""Colours of the nerve plots, from the Okabe-Ito palette (distinguishable with the common
colour-vision deficiencies); every mark also differs by marker, line style or hatch."""

_POSITIVE_BLOCK = ("yes", "probable")


def _require_pyplot() -> Any:
    from ncs._optional import require

    return require("matplotlib.pyplot", "plot")


def plot_traces(
    traces: Any,
    fs_hz: float | None = None,
    *,
    stim_ms: float = 0.0,
    labels: Sequence[str] | None = None,
    measurements: pd.DataFrame | None = None,
    units: str = "mV",
    invert: bool = False,
    spacing_mv: float | None = None,
    markers: bool = True,
    negative_up: bool = True,
    ax: Any = None,
    **measure_kwargs: Any,
) -> Any:
    """Draw CMAP traces stacked by stimulation site, with their markers, as an EDX report does.

    The most distal site is on top and each more proximal site below it, on a common time
    axis from the stimulus. Markers: onset (``|``), negative peak (``v``), return to baseline
    of the negative phase (``o``) and end of the response (``x``), placed by
    :func:`ncs.waveform.measure`.

    Parameters
    ----------
    traces : array_like, ncs.waveform.Traces or ncs.simulate.SimulatedCMAP
        One trace per row (distal first), or a container carrying the sampling rate,
        stimulus time and labels.
    fs_hz : float, optional
        Sampling rate; required for arrays. [Hz]
    stim_ms : float, default 0.0
        Stimulus time from the start of the sweep (arrays only). [ms]
    labels : sequence of str, optional
        One label per trace (default: the container's site labels, else ``"1"``, ``"2"``...).
    measurements : pandas.DataFrame, optional
        Output of :func:`ncs.waveform.measure` for these traces; measured here when omitted
        and ``markers`` is true.
    units : {"mV", "uV", "V"}, default "mV"
        Units of array input.
    invert : bool, default False
        Array input stores the negative phase as positive values.
    spacing_mv : float, optional
        Vertical distance between traces. Default: 1.2 x the largest peak-to-peak. [mV]
    markers : bool, default True
        Draw the markers.
    negative_up : bool, default True
        Draw the negative phase upwards (the usual EDX display).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    **measure_kwargs
        Passed to :func:`ncs.waveform.measure` when measuring here.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'ncs-edx[plot]'``).

    References
    ----------
    .. [1] Stålberg E, van Dijk H, Falck B, et al. Standards for quantification of EMG and
       neurography. Clin Neurophysiol. 2019;130(9):1688-1729.
    """
    plt = _require_pyplot()
    from ncs.errors import ValidationError
    from ncs.waveform import Traces, from_array, measure

    if hasattr(traces, "to_traces"):
        traces = traces.to_traces()
    if not isinstance(traces, Traces):
        if fs_hz is None:
            raise ValidationError([(None, "fs_hz", "is required for array input")])
        traces = from_array(traces, fs_hz, stim_ms=stim_ms, units=units, invert=invert)
    data = traces.data_mv
    n_traces = data.shape[0]
    if labels is None:
        if "label" in traces.sites:
            labels = [str(v) for v in traces.sites["label"]]
        else:
            labels = [str(i + 1) for i in range(n_traces)]
    if len(labels) != n_traces:
        raise ValidationError([(None, "labels", f"{len(labels)} labels for {n_traces} traces")])
    if markers and measurements is None:
        measurements = measure(data, traces.fs_hz, traces.stim_ms, **measure_kwargs)
    if measurements is not None and len(measurements) != n_traces:
        raise ValidationError(
            [(None, "measurements", f"{len(measurements)} rows for {n_traces} traces")]
        )

    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 1.2 + 1.3 * n_traces))
    time = traces.time_ms
    flip = -1.0 if negative_up else 1.0
    finite = data[np.isfinite(data)]
    if spacing_mv is None:
        rows_pp = np.nanmax(data, axis=1) - np.nanmin(data, axis=1) if finite.size else [1.0]
        spacing_mv = 1.2 * float(np.nanmax(rows_pp)) or 1.0

    for i in range(n_traces):
        row = data[i]
        base = 0.0
        if measurements is not None and np.isfinite(measurements["baseline_mv"].iloc[i]):
            base = float(measurements["baseline_mv"].iloc[i])
        offset = -i * spacing_mv
        shown = flip * (row - base) + offset
        ax.plot(time, shown, lw=1.0, color="k")
        ax.axhline(offset, color="0.8", lw=0.6, zorder=0)
        ax.text(time[0], offset + 0.35 * spacing_mv, labels[i], fontsize=8, va="bottom")
        if not markers or measurements is None:
            continue
        m = measurements.iloc[i]
        onset = m["latency_ms"]
        marks = {
            "onset": (onset, 0.0, "|"),
            "negative peak": (m["peak_latency_ms"], m["amplitude_mv"], "v" if negative_up else "^"),
            "return": (onset + m["duration_ms"], 0.0, "o"),
            "end": (onset + m["total_duration_ms"], 0.0, "x"),
        }
        for name, (t_ms, depth, symbol) in marks.items():
            if not (np.isfinite(t_ms) and np.isfinite(depth)):
                continue
            y_value = offset + (-flip) * depth  # depth is a negativity (baseline - signal)
            ax.plot(
                [t_ms],
                [y_value],
                linestyle="none",
                marker=symbol,
                ms=7,
                color="tab:red",
                label=name if i == 0 else None,
            )
        if isinstance(m.get("quality"), str) and m["quality"] != "ok":
            ax.text(
                time[-1],
                offset + 0.35 * spacing_mv,
                str(m["quality"]),
                fontsize=7,
                ha="right",
                va="bottom",
                color="tab:red",
            )
    ax.axvline(0.0, color="0.6", lw=0.6, ls=":")
    ax.set_xlabel("time from stimulus (ms)")
    ax.set_ylabel(f"mV ({spacing_mv:.3g} mV between traces)")
    ax.set_yticks([])
    if any(line.get_label() and not line.get_label().startswith("_") for line in ax.get_lines()):
        ax.legend(loc="upper right", fontsize=7, frameon=False)
    return ax


def _comparison(result: Any) -> Any:
    """A Comparison from a Comparison or an Analysis (no simulation needed for plots)."""
    from ncs.analyze import Analysis
    from ncs.compare import Comparison, compare

    if isinstance(result, Comparison):
        return result
    if isinstance(result, Analysis):
        return compare(result, cv={}, n_draws=1)
    raise TypeError("pass a Comparison (ncs.compare) or an Analysis (ncs.analyze)")


def plot_agreement(
    comparison: Any,
    *,
    level: str = "patient",
    categories: str = "all",
    ax: Any = None,
) -> Any:
    """Pairwise Cohen's kappa between criteria as a matrix, each cell with its 95 % interval.

    Parameters
    ----------
    comparison : ncs.compare.Comparison or ncs.Analysis
        Result of :func:`ncs.compare` (an ``Analysis`` is compared here).
    level : {"segment", "nerve", "patient"}, default "patient"
    categories : {"all", "assessable"}, default "all"
        With ``not_assessable``/``indeterminate`` kept as a category, or those units excluded.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    .. [1] Fleiss JL, Cohen J, Everitt BS. Large sample standard errors of kappa and weighted
       kappa. Psychol Bull 1969;72(5):323-327.
    """
    plt = _require_pyplot()
    comp = _comparison(comparison)
    ids = list(comp.meta["criteria"])
    k = len(ids)
    matrix = np.full((k, k), np.nan)
    notes = [["" for _ in ids] for _ in ids]
    ag = comp.agreement
    rows = ag[(ag["level"] == level) & (ag["categories"] == categories)]
    for r in rows.itertuples(index=False):
        i, j = ids.index(r.scheme_a), ids.index(r.scheme_b)
        matrix[i, j] = matrix[j, i] = r.kappa
        if np.isnan(r.kappa):
            text = "n/a"
        else:
            text = f"{r.kappa:.2f}\n({r.kappa_ci_low:.2f} to {r.kappa_ci_high:.2f})\nn={r.n}"
        notes[i][j] = notes[j][i] = text
    for i in range(k):
        matrix[i, i] = 1.0
        notes[i][i] = "1"
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 1.5 * k, 1.2 + 1.3 * k))
    image = ax.imshow(matrix, vmin=-1.0, vmax=1.0, cmap="RdBu")
    for i in range(k):
        for j in range(k):
            value = matrix[i, j]
            dark = np.isfinite(value) and abs(value) > 0.6
            ax.text(
                j, i, notes[i][j], ha="center", va="center", fontsize=8, color="w" if dark else "k"
            )
    ax.set_xticks(range(k), ids, rotation=30, ha="right")
    ax.set_yticks(range(k), ids)
    ax.set_title(f"Cohen's kappa, {level} level ({categories})", fontsize=9)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="kappa")
    return ax


def plot_decision_regions(
    comparison: Any,
    *,
    x_limits: tuple[float, float] = (-20.0, 100.0),
    y_limits: tuple[float, float] = (-60.0, 120.0),
    resolution: int = 241,
    area: str = "as_amplitude",
    ax: Any = None,
) -> Any:
    """Amplitude drop against duration change per segment, with each scheme's block region.

    Every scheme's block rules are evaluated on a grid from their thresholds, and the region
    where the scheme finds a block is outlined; segments are drawn on top, marked by whether
    the schemes agree. Schemes that also use the area drop cannot be drawn in two dimensions
    without an assumption: the regions are drawn with the area drop equal to the amplitude
    drop (``area="as_amplitude"``) or with the area unknown (``area="unknown"``, which shows
    where the amplitude and duration alone decide). The regions are drawn for a forearm
    segment of the median nerve with a normal distal CMAP, which every built-in scheme's scope
    and preconditions admit; other nerves and sites may be excluded by a scheme.

    Parameters
    ----------
    comparison : ncs.compare.Comparison or ncs.Analysis
    x_limits : (float, float)
        Range of the amplitude drop axis. [%]
    y_limits : (float, float)
        Range of the duration change axis. [%]
    resolution : int, default 241
        Grid points per axis.
    area : {"as_amplitude", "unknown"}
        Area drop used for the regions (the segments are drawn with their own values).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Segments without an amplitude drop or a duration change are not drawn; their number is
    given in the legend.
    """
    plt = _require_pyplot()
    from ncs.engine import PROBABLE, judge

    if area not in ("as_amplitude", "unknown"):
        raise ValueError("area must be 'as_amplitude' or 'unknown'")
    comp = _comparison(comparison)
    ids = list(comp.meta["criteria"])
    crits = [c for c in comp.analysis.criteria if c.id in ids]
    x = np.linspace(*x_limits, resolution)
    y = np.linspace(*y_limits, resolution)
    grid_x, grid_y = np.meshgrid(x, y)
    measures = {
        "amp_drop_pct": grid_x,
        "area_drop_pct": grid_x if area == "as_amplitude" else np.full_like(grid_x, np.nan),
        "dur_change_pct": grid_y,
    }
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.0))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = []
    from matplotlib.patches import Patch

    # the regions are those of one forearm segment of a median nerve with a normal distal CMAP
    # (every scope and precondition of the built-in schemes admits it), judged by the engine
    typical = pd.DataFrame(
        {
            "patient_id": "grid",
            "nerve": "median",
            "side": "R",
            "distal_site": "wrist",
            "proximal_site": "elbow",
            "comparison": "adjacent",
            "distal_response": "present",
            "entrapment": pd.Series([None] * resolution, dtype=object),
            "distal_amplitude_mv": 10.0,
            "amp_lln_mv": 4.0,
        },
        index=range(resolution),
    )
    for i, crit in enumerate(crits):
        rules = [*crit.block, *crit.dispersion_rules]
        names = {t.measure for r in rules for t in r.thresholds}
        grid = {m: measures.get(m, np.full_like(grid_x, np.nan)) for m in names}
        block = judge(crit, typical, measures=grid).block_code
        positive = (block >= PROBABLE).astype(float)
        colour = colours[i % len(colours)]
        ax.contourf(grid_x, grid_y, positive, levels=[0.5, 1.5], colors=[colour], alpha=0.15)
        ax.contour(grid_x, grid_y, positive, levels=[0.5], colors=[colour], linewidths=1.5)
        handles.append(
            Patch(facecolor=colour, alpha=0.3, edgecolor=colour, label=f"{crit.short}: block")
        )

    seg = comp.segments
    xs = seg["amp_drop_pct"].to_numpy(dtype=float, na_value=np.nan)
    ys = seg["dur_change_pct"].to_numpy(dtype=float, na_value=np.nan)
    shown = np.isfinite(xs) & np.isfinite(ys)
    discordant = seg["discordant"].to_numpy(dtype=bool)
    for mask, marker, label in (
        (shown & ~discordant, "o", "schemes agree"),
        (shown & discordant, "X", "schemes differ"),
    ):
        handles.append(
            ax.scatter(
                xs[mask],
                ys[mask],
                s=28,
                marker=marker,
                c="k" if marker == "o" else "r",
                alpha=0.7,
                label=f"{label} ({int(mask.sum())})",
            )
        )
    hidden = int((~shown).sum())
    if hidden:
        handles.append(
            Patch(
                facecolor="none",
                edgecolor="none",
                label=f"{hidden} segment(s) without both measures not drawn",
            )
        )
    ax.axvline(0, color="0.8", lw=0.6, zorder=0)
    ax.axhline(0, color="0.8", lw=0.6, zorder=0)
    ax.set_xlim(*x_limits)
    ax.set_ylim(*y_limits)
    ax.set_xlabel("amplitude drop, proximal vs distal (%)")
    ax.set_ylabel("duration change, proximal vs distal (%)")
    note = "area drop = amplitude drop" if area == "as_amplitude" else "area unknown"
    ax.set_title(f"Block regions per scheme ({note} for the regions)", fontsize=9)
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)
    return ax


def _text_column(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), "", dtype=object)
    return df[name].astype(object).where(df[name].notna(), "").astype(str).to_numpy()


def drop_thresholds(
    criteria: Sequence[Any], nerve: str | None = None, segments: pd.DataFrame | None = None
) -> list[tuple[str, float, list[str]]]:
    """The drop thresholds of the criteria's block rules: (measure, value, criteria) triples.

    Read from the rules' data (``amp_drop_pct`` and ``area_drop_pct`` thresholds, with the
    nerve's override where one applies), grouped by measure and value: what the nerve plots
    draw as threshold lines.

    Parameters
    ----------
    criteria : sequence of Criterion
    nerve : str, optional
        Use the thresholds' overrides for this nerve.
    segments : pandas.DataFrame, optional
        The nerve's segments (rows of ``Analysis.segments``): a rule whose scope, or whose
        criterion's scope, takes none of them is left out (EFNS/PNS 2010 CIDP's 30 % rule
        excludes the tibial nerve: its line is not drawn there). The scope is the rule
        engine's (:func:`ncs.engine.scope_mask`).

    Returns
    -------
    list of (str, float, list of str)
        ``(measure, value_pct, [short names of the criteria])``, sorted by measure and value.
    """
    found: dict[tuple[str, float], list[str]] = {}
    judged = segments is not None and len(segments) > 0 and "nerve" in segments.columns
    for crit in criteria:
        inside = scope_mask(crit.scope, segments) if judged else None
        for rule in crit.block:
            if inside is not None and not (inside & scope_mask(rule.scope, segments)).any():
                continue  # a rule that takes none of the nerve's segments draws no line
            for t in rule.thresholds:
                if t.measure not in ("amp_drop_pct", "area_drop_pct") or t.of is not None:
                    continue
                if t.absolute:
                    continue
                value = t.value
                for name, _, v in t.overrides:
                    if name == nerve:
                        value = v
                names = found.setdefault((t.measure, float(value)), [])
                if crit.short not in names:
                    names.append(crit.short)
    return [(m, v, names) for (m, v), names in sorted(found.items())]


def _signed_drop(value: float) -> str:
    """A drop in % as a change a reader sees: a fall of 64.6 % is "−64.6 %"."""
    if not np.isfinite(value):
        return "?"
    change = -value
    return f"{change:+.1f} %".replace("-", "−")


def _draw_nerve(
    ax: Any,
    sites: pd.DataFrame,
    segments: pd.DataFrame,
    findings: pd.DataFrame,
    criteria: Sequence[Any],
    *,
    title: str | None = None,
    fontsize: float = 7.0,
) -> Any:
    """Amplitude and area along one nerve, drops, block and dispersion spans, thresholds."""
    ordered = sites.sort_values("site_order", kind="stable") if "site_order" in sites else sites
    x = np.arange(len(ordered), dtype=float)
    names = [str(s) for s in ordered["site"]]
    position = {name: i for i, name in enumerate(names)}
    amp = ordered["amplitude_mv"].to_numpy(dtype=float, na_value=np.nan)
    has_area = "area_mvms" in ordered and ordered["area_mvms"].notna().any()
    area = (
        ordered["area_mvms"].to_numpy(dtype=float, na_value=np.nan)
        if has_area
        else np.full(len(ordered), np.nan)
    )
    nerve = str(ordered["nerve"].iloc[0]) if "nerve" in ordered and len(ordered) else None

    # spans first (underneath): block and dispersion, each segment once, with the criteria
    adjacent = segments
    if "comparison" in segments.columns:
        adjacent = segments[_text_column(segments, "comparison") == "adjacent"]
    far = np.zeros(len(findings), dtype=bool)
    if "comparison" in findings.columns and len(findings):
        far = _text_column(findings, "comparison") == "distal"
    shorts = {c.id: c.short for c in criteria}
    block_by: dict[tuple[str, str], list[str]] = {}
    blocked_by: dict[tuple[str, str], set[str]] = {}  # the criteria of each adjacent block
    far_block_by: dict[tuple[str, str], list[tuple[str, str]]] = {}
    disp_by: dict[tuple[str, str], list[str]] = {}
    phase: set[tuple[str, str]] = set()
    if len(findings):
        distal = _text_column(findings, "distal_site")
        proximal = _text_column(findings, "proximal_site")
        crit = _text_column(findings, "criterion")
        block = _text_column(findings, "block")
        disp = _text_column(findings, "dispersion")
        pc = (
            findings["phase_cancellation_possible"].fillna(False).to_numpy(dtype=bool)
            if "phase_cancellation_possible" in findings
            else np.zeros(len(findings), dtype=bool)
        )
        rows = zip(distal, proximal, crit, block, disp, pc, far, strict=True)
        for d, p, c, b, s, flag, against_first in rows:
            if c not in shorts:
                continue
            if against_first:  # against the most distal site: a bracket, if a block
                if b in _POSITIVE_BLOCK:
                    label = shorts[c] + (" (probable)" if b == "probable" else "")
                    far_block_by.setdefault((d, p), []).append((c, label))
                continue
            if b in _POSITIVE_BLOCK:
                label = shorts[c] + (" (probable)" if b == "probable" else "")
                block_by.setdefault((d, p), []).append(label)
                blocked_by.setdefault((d, p), set()).add(c)
                if flag:
                    phase.add((d, p))
            if s == "yes":
                disp_by.setdefault((d, p), []).append(shorts[c])
    for d, p in block_by:
        if d in position and p in position:
            note = "block" + (" *" if (d, p) in phase else "")
            _shade_segment(
                ax,
                position[d],
                position[p],
                PALETTE["block"],
                "////",
                0.03,
                note,
                fontsize,
                color=PALETTE["block"],
                fontweight="bold",
            )
    # a block a criterion found against the most distal site only (none of its adjacent
    # segments within it blocked): a bracket over the two sites under the curves, naming
    # the criteria
    level = 0.22
    for (d, p), found in far_block_by.items():
        if d not in position or p not in position:
            continue
        shaded = set()  # criteria whose adjacent shading already shows where it lies
        for (a, b), crits in blocked_by.items():
            if a in position and b in position:
                lo, hi = sorted((position[a], position[b]))
                if position[d] <= lo and hi <= position[p]:
                    shaded |= crits
        labels = [label for c, label in found if c not in shaded]
        if not labels:
            continue
        ax.annotate(  # the bracket alone: an arrow between the two sites, no text
            "",
            xy=(position[d], level),
            xycoords=ax.get_xaxis_transform(),
            xytext=(position[p], level),
            textcoords=ax.get_xaxis_transform(),
            arrowprops={
                "arrowstyle": "|-|",
                "color": PALETTE["block"],
                "lw": 1.2,
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
        ax.text(
            (position[d] + position[p]) / 2,
            level + 0.02,
            f"block vs {d}: {', '.join(labels)}",
            transform=ax.get_xaxis_transform(),
            color=PALETTE["block"],
            fontsize=fontsize - 0.5,
            fontweight="bold",
            ha="center",
            va="bottom",
        )
        level += 0.1
    for d, p in disp_by:
        if d in position and p in position:
            _shade_segment(
                ax,
                position[d],
                position[p],
                PALETTE["dispersion"],
                "\\\\",
                0.13,
                "dispersion",
                fontsize,
                color="#8A3A6A",
                fontstyle="italic",
            )

    # the two measures: distinct colours, markers and line styles (they overlap when they fall
    # in proportion; the open squares stay visible around the filled circles)
    ax.plot(
        x,
        amp,
        color=PALETTE["amplitude"],
        ls="-",
        lw=1.6,
        marker="o",
        ms=5,
        label="amplitude (mV)",
        zorder=3,
    )
    ax.set_ylabel("amplitude (mV)", color=PALETTE["amplitude"], fontsize=fontsize + 1)
    top = np.nanmax(amp) if np.isfinite(amp).any() else 1.0
    top = max(top, 1e-3) * 1.45
    # both axes share their scale at the most distal response (the area axis is the
    # amplitude axis times distal area / distal amplitude): a drop of the same percentage
    # reaches the same height, so one threshold line serves both measures
    scale = None
    distal_known = len(amp) and np.isfinite(amp[0]) and amp[0] > 0
    if has_area and distal_known and np.isfinite(area[0]) and area[0] > 0:
        scale = area[0] / amp[0]
        if np.isfinite(area).any():
            top = max(top, np.nanmax(area) / scale * 1.45)
    ax.set_ylim(0, top)
    ax2 = None
    if has_area:
        ax2 = ax.twinx()
        ax2.plot(
            x,
            area,
            color=PALETTE["area"],
            ls="--",
            lw=1.4,
            marker="s",
            ms=8,
            markerfacecolor="none",
            markeredgewidth=1.4,
            label="area (mV·ms)",
            zorder=4,
        )
        ax2.set_ylabel("area (mV·ms)", color=PALETTE["area"], fontsize=fontsize + 1)
        if scale is not None:
            ax2.set_ylim(0, top * scale)
        else:
            top2 = np.nanmax(area) if np.isfinite(area).any() else 1.0
            ax2.set_ylim(0, max(top2, 1e-3) * 1.45)
        ax2.tick_params(labelsize=fontsize)

    # threshold lines: the criteria's drop thresholds from the most distal response, drawn
    # on the amplitude axis (on the shared scale they hold for the area too)
    if len(amp) and np.isfinite(amp[0]) and amp[0] > 0:
        values = {}
        for measure, value, _who in drop_thresholds(criteria, nerve, segments):
            if measure == "amp_drop_pct" or scale is not None:
                values[value] = True
        for value in values:
            level = amp[0] * (1 - value / 100.0)
            ax.axhline(level, color=PALETTE["threshold"], ls=":", lw=1.0, zorder=1)
            ax.text(
                0.99,
                level,
                f"−{value:g} %",
                transform=ax.get_yaxis_transform(),
                color=PALETTE["threshold"],
                fontsize=fontsize - 1,
                va="bottom",
                ha="right",
            )

    # drops in % on each adjacent segment
    if len(adjacent):
        distal = _text_column(adjacent, "distal_site")
        proximal = _text_column(adjacent, "proximal_site")
        amp_drop = adjacent["amp_drop_pct"].to_numpy(dtype=float, na_value=np.nan)
        area_drop = (
            adjacent["area_drop_pct"].to_numpy(dtype=float, na_value=np.nan)
            if "area_drop_pct" in adjacent
            else np.full(len(adjacent), np.nan)
        )
        for d, p, a, r in zip(distal, proximal, amp_drop, area_drop, strict=True):
            if d not in position or p not in position:
                continue
            mid = (position[d] + position[p]) / 2
            text = f"amp {_signed_drop(a)}"
            if has_area:
                text += f"\narea {_signed_drop(r)}"
            ax.text(
                mid,
                0.97,
                text,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize=fontsize - 0.5,
                color="#222222",
            )
    ax.set_xticks(x, names, fontsize=fontsize)
    ax.set_xlim(-0.3, max(len(x) - 1, 1) + 0.3)
    ax.tick_params(axis="y", labelsize=fontsize)
    if title:
        ax.set_title(title, fontsize=fontsize + 2, loc="left")
    return ax


def _shade_segment(
    ax: Any,
    a: float,
    b: float,
    colour: str,
    hatch: str,
    y: float,
    note: str,
    fontsize: float,
    **text_style: Any,
) -> None:
    """Shade the segment between two site positions and name what it shows under it."""
    lo, hi = sorted((a, b))
    ax.axvspan(lo, hi, facecolor=colour, alpha=0.10, hatch=hatch, edgecolor=colour, lw=0, zorder=0)
    ax.text(
        (lo + hi) / 2,
        y,
        note,
        transform=ax.get_xaxis_transform(),
        ha="center",
        va="bottom",
        fontsize=fontsize,
        **text_style,
    )


def plot_nerve(
    result: Any,
    patient_id: str,
    nerve: str,
    side: str,
    *,
    criteria: Sequence[str] | None = None,
    ax: Any = None,
    visit: str | None = None,
) -> Any:
    """CMAP amplitude and area along one nerve, distal to proximal, with its findings.

    Amplitude (filled circles, solid line, left axis) and area (open squares, dashed line,
    right axis) at each stimulation site; on each segment between neighbouring sites the
    changes in %; segments where a criterion found a conduction block shaded with ``////``
    (vermillion, "block", with ``*`` where it rests on the amplitude alone beside a dispersed
    response: phase cancellation possible), temporal dispersion with ``\\\\`` (purple,
    "dispersion"); a block found only against the most distal site (no adjacent segment
    within it shaded) as a bracket over its two sites, "block vs <site>: <criteria>"; the
    criteria's drop thresholds as dotted lines below the most distal response (the area
    axis is scaled so that a line holds for both measures). Nothing is judged here: the
    shading reads ``findings``, the lines read the criteria's thresholds.

    Parameters
    ----------
    result : Analysis
        Result of :func:`ncs.analyze`.
    patient_id, nerve, side : str
        The nerve to draw.
    criteria : sequence of str, optional
        Criterion ids whose findings and thresholds are drawn (default: all of the result's).
    ax : matplotlib.axes.Axes, optional
    visit : str, optional
        Which study of a patient with serial studies (a ``visit`` column); may be left out
        when the patient has one.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValidationError
        No sites for this nerve (and visit), or serial studies and no ``visit``.

    References
    ----------
    .. [1] Okabe M, Ito K. Color universal design (CUD): how to make figures and
       presentations that are friendly to colorblind people. 2008.
    """
    plt = _require_pyplot()
    crits = [c for c in result.criteria if criteria is None or c.id in criteria]

    from ncs.errors import ValidationError

    def pick(df: pd.DataFrame, visit: str | None) -> pd.DataFrame:
        if df.empty:
            return df
        mask = (
            (_text_column(df, "patient_id") == str(patient_id))
            & (_text_column(df, "nerve") == str(nerve))
            & (_text_column(df, "side") == str(side))
        )
        if visit is not None and "visit" in df.columns:
            mask &= _text_column(df, "visit") == str(visit)
        return df[mask]

    where = f"{patient_id} {nerve} {side}" + (f" at {visit}" if visit is not None else "")
    if visit is not None and "visit" not in result.sites.columns:
        raise ValidationError([(None, "visit", "this analysis has no visits (no visit column)")])
    sites = pick(result.sites, visit)
    if sites.empty:
        raise ValidationError([(None, None, f"no sites for {where}")])
    if visit is None and "visit" in sites.columns:
        studies = list(dict.fromkeys(_text_column(sites, "visit")))
        if len(studies) > 1:  # two studies' sites are never drawn as one nerve
            raise ValidationError(
                [
                    (
                        None,
                        "visit",
                        f"{where} has {len(studies)} studies: name the visit "
                        f"({', '.join(studies)})",
                    )
                ]
            )
        visit = studies[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 2.6))
    return _draw_nerve(
        ax,
        sites,
        pick(result.segments, visit),
        pick(result.findings, visit),
        crits,
        title=f"{nerve} {side}",
        fontsize=8.0,
    )


#: Line colours of the follow-up slopegraph, by transition (Okabe-Ito, as :data:`PALETTE`).
FOLLOWUP_COLOURS: dict[str, str] = {
    "new_block": "#D55E00",  # vermillion
    "resolved": "#009E73",  # bluish green
    "persisting": "#E69F00",  # orange
    "no_block": "#999999",
    "not_assessable": "#BBBBBB",
}
#: Markers of the slopegraph, by transition: each differs by marker as well as colour.
FOLLOWUP_MARKERS: dict[str, str] = {
    "new_block": "^",
    "resolved": "v",
    "persisting": "s",
    "no_block": "o",
    "not_assessable": "x",
}


def plot_followup(
    followup: Any,
    *,
    patient: str | None = None,
    criterion: str | None = None,
    measure: str = "amp_drop_pct",
    axes: Any = None,
) -> Any:
    """A slopegraph per nerve: each segment's drop at each visit, joined by a line.

    One panel per nerve (and side) of one patient. Each segment studied at two consecutive
    visits is a line from its value at the earlier visit to its value at the later one,
    coloured by its transition under ``criterion`` (:data:`FOLLOWUP_COLOURS`); a segment
    studied at one visit only is a point (an open circle), never a line. The criteria's
    thresholds on the measure are shaded bands from the threshold to 100 %, labelled with
    the criterion and rule.

    Parameters
    ----------
    followup : ncs.followup.FollowUp
        Result of :func:`ncs.followup`.
    patient : str, optional
        Which patient (default: the first).
    criterion : str, optional
        Whose transitions colour the lines (default: the first criterion).
    measure : {"amp_drop_pct", "area_drop_pct", "dur_change_pct"}, default "amp_drop_pct"
        The segment measure plotted.
    axes : sequence of matplotlib.axes.Axes, optional
        One Axes per nerve; a new figure is made when omitted.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        One per nerve, in the order of ``followup.nerves``.
    """
    plt = _require_pyplot()
    prefix = {
        "amp_drop_pct": "amp_drop",
        "area_drop_pct": "area_drop",
        "dur_change_pct": "dur_change",
    }
    if measure not in prefix:
        raise ValueError(f"measure must be one of {sorted(prefix)}, got {measure!r}")
    seg = followup.segments
    if not len(seg):
        raise ValueError("no visit pairs to plot (every patient was studied once)")
    ids = seg["patient_id"].astype(str)
    patient = str(ids.iloc[0]) if patient is None else str(patient)
    crit_ids = [c.id for c in followup.criteria]
    criterion = crit_ids[0] if criterion is None else str(criterion)
    if criterion not in crit_ids:
        raise ValueError(f"criterion {criterion!r} was not applied; applied: {crit_ids}")
    rows = seg[(ids == patient).to_numpy() & (seg["criterion"].astype(str) == criterion).to_numpy()]
    if rows.empty:
        raise ValueError(f"patient {patient!r} has no visit pair to plot")
    visits = followup.visits[followup.visits["patient_id"].astype(str) == patient]
    order = {str(v): int(i) for v, i in zip(visits["visit"], visits["visit_index"], strict=True)}
    labels = [str(v) for v in visits.sort_values("visit_index")["visit"]]
    nerves = list(
        dict.fromkeys(zip(rows["nerve"].astype(str), rows["side"].astype(str), strict=True))
    )
    if axes is None:
        _, created = plt.subplots(
            1, len(nerves), figsize=(0.6 + 3.4 * len(nerves), 4.2), sharey=True, squeeze=False
        )
        axes = created[0]
    axes = np.atleast_1d(np.asarray(axes, dtype=object))
    if axes.size != len(nerves):
        raise ValueError(f"{len(nerves)} nerves to draw, {axes.size} Axes given")
    bands = followup.thresholds(measure)
    values_b = rows[f"{prefix[measure]}_before_pct"].to_numpy(dtype=float)
    values_a = rows[f"{prefix[measure]}_after_pct"].to_numpy(dtype=float)
    known = np.concatenate([values_b, values_a])
    known = known[np.isfinite(known)]
    low = min(-10.0, float(known.min()) - 5.0) if known.size else -10.0
    high = max(100.0, float(known.max()) + 5.0) if known.size else 100.0
    shades = ["#f5b7b1", "#d7bde2", "#a9cce3", "#a3e4d7", "#f9e79f"]
    for ax, (nerve, side) in zip(axes, nerves, strict=True):
        mine = rows[
            (rows["nerve"].astype(str) == nerve).to_numpy()
            & (rows["side"].astype(str) == side).to_numpy()
        ]
        for b in bands.itertuples(index=False):
            if b.nerve is not None and b.nerve != nerve:
                continue
            ax.axhspan(
                b.value,
                high,
                color=shades[crit_ids.index(b.criterion) % len(shades)],
                alpha=0.25,
                lw=0,
                zorder=0,
            )
            ax.axhline(b.value, color="0.4", lw=0.6, ls=":", zorder=1)
            ax.text(
                1.0,
                b.value,
                f" {b.criterion}: {b.rule} {b.op} {b.value:g}%",
                transform=ax.get_yaxis_transform(),
                fontsize=6.5,
                va="bottom",
                ha="right",
                color="0.3",
            )
        for r in mine.itertuples(index=False):
            x0, x1 = order[str(r.visit_before)], order[str(r.visit_after)]
            yb = getattr(r, f"{prefix[measure]}_before_pct")
            ya = getattr(r, f"{prefix[measure]}_after_pct")
            colour = FOLLOWUP_COLOURS[str(r.transition)]
            name = f"{r.distal_site}-{r.proximal_site}" + (
                " (d)" if r.comparison == "distal" else ""
            )
            if r.studied == "both":
                ls = "--" if r.transition == "not_assessable" else "-"
                marker = FOLLOWUP_MARKERS[str(r.transition)]
                ax.plot(
                    [x0, x1], [yb, ya], color=colour, lw=1.6, ls=ls, marker=marker, ms=4, zorder=3
                )
                ax.annotate(
                    name,
                    (x1, ya),
                    xytext=(4, 0),
                    textcoords="offset points",
                    fontsize=6.5,
                    va="center",
                    color=colour,
                )
            else:
                x, y = (x0, yb) if r.studied == "before_only" else (x1, ya)
                ax.plot([x], [y], ls="none", marker="o", mfc="none", mec=colour, ms=6, zorder=3)
                only = r.visit_before if r.studied == "before_only" else r.visit_after
                ax.annotate(
                    f"{name}: {only} only",
                    (x, y),
                    xytext=(4, 0),
                    textcoords="offset points",
                    fontsize=6.5,
                    va="center",
                    color=colour,
                )
        ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        ax.set_xlim(-0.3, len(labels) - 0.1)  # room for the segment names
        ax.set_ylim(low, high)
        ax.set_title(f"{nerve} {side}", fontsize=9)
        ax.axhline(0, color="0.7", lw=0.5)
    label = {
        "amp_drop_pct": "amplitude drop (%)",
        "area_drop_pct": "area drop (%)",
        "dur_change_pct": "duration change (%)",
    }[measure]
    axes[0].set_ylabel(label)
    axes[0].figure.suptitle(f"{patient}: {criterion}", fontsize=9)
    return axes

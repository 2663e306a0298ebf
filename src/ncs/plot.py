"""Plots (optional extra ``plot``: matplotlib, imported inside the functions only).

Every function takes ``ax=`` (draws on a new figure when omitted) and returns the Axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_agreement", "plot_decision_regions", "plot_traces"]


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

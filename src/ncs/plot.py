"""Plots (optional extra ``plot``: matplotlib, imported inside the functions only).

Every function takes ``ax=`` (draws on a new figure when omitted) and returns the Axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_traces"]


def _require_pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "matplotlib is needed for plots; install it with pip install 'ncs-edx[plot]'"
        ) from err
    return plt


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

"""Tests of ncs.plot.plot_traces (skipped when matplotlib is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ncs.errors import ValidationError  # noqa: E402
from ncs.plot import plot_traces  # noqa: E402
from ncs.simulate import cmap  # noqa: E402
from ncs.waveform import from_array, measure  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _marker_points(ax, symbol):
    return [
        (line.get_xdata()[0], line.get_ydata()[0])
        for line in ax.get_lines()
        if line.get_marker() == symbol
    ]


def test_stacked_traces_with_markers_at_the_measured_times():
    sim = cmap([70.0, 300.0, 420.0], cv_spread=0.0, amplitude_mv=5.0)
    ax = plot_traces(sim)
    traces = [line for line in ax.get_lines() if line.get_marker() in ("None", None, "")]
    drawn = [line for line in traces if len(line.get_xdata()) == sim.traces.shape[1]]
    assert len(drawn) == 3
    # distal on top: each trace's baseline is lower than the previous one
    baselines = [np.median(line.get_ydata()) for line in drawn]
    assert baselines[0] > baselines[1] > baselines[2]
    onsets = sorted(x for x, _ in _marker_points(ax, "|"))
    expected = 2.0 + np.array([70.0, 300.0, 420.0]) / 55.0
    assert onsets == pytest.approx(expected, abs=1e-3)
    # negative peaks drawn upwards, amplitude above each baseline
    peaks = _marker_points(ax, "v")
    assert len(peaks) == 3
    assert ax.get_xlabel() == "time from stimulus (ms)"


def test_plot_on_given_axes_returns_them_and_accepts_arrays():
    _fig, ax = plt.subplots()
    t = np.arange(1000) / 20.0 - 2.0
    x = np.where((t >= 3) & (t < 8), -4 * np.sin(np.pi * (t - 3) / 5), 0.0)
    data = np.vstack([x, 0.5 * x])
    out = plot_traces(data, 20_000.0, stim_ms=2.0, labels=["wrist", "elbow"], ax=ax)
    assert out is ax
    texts = [t.get_text() for t in ax.texts]
    assert "wrist" in texts and "elbow" in texts
    bare = plot_traces(from_array(data, 20_000.0, stim_ms=2.0), markers=False)
    assert _marker_points(bare, "|") == []
    measured = measure(data, 20_000.0, 2.0)
    again = plot_traces(data, 20_000.0, stim_ms=2.0, measurements=measured)
    assert len(_marker_points(again, "|")) == 2


def test_quality_problems_are_written_on_the_trace():
    ax = plot_traces(np.zeros((1, 400)), 20_000.0, stim_ms=2.0)
    assert any(t.get_text() == "no response" for t in ax.texts)
    assert _marker_points(ax, "|") == []


def test_plot_rejects_inconsistent_input():
    with pytest.raises(ValidationError):
        plot_traces(np.zeros((2, 400)))  # no sampling rate
    with pytest.raises(ValidationError):
        plot_traces(np.zeros((2, 400)), 20_000.0, labels=["only one"])

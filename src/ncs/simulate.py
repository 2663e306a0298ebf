"""Synthetic CMAPs from a motor-unit population, and synthetic study cohorts.

Three tools:

- :func:`cmap` builds compound muscle action potentials as the sum of motor-unit potentials
  whose arrival times depend on each unit's conduction velocity and the conduction distance.
  Desynchronised units cancel each other's phases, so area falls and duration grows with
  distance and velocity spread even when every axon conducts (no block).
- :func:`dispersion_only_area_loss` asks that model how much CMAP area (and amplitude) a
  segment can lose by dispersion alone, the question of Rhee, England and Sumner (1990).
- :func:`cohort` generates tidy sites tables (DESIGN.md "tidy input") of synthetic patients
  with normal, blocked, dispersed, axonal and absent nerves, vectorised, for benchmarks and
  tests.

Every random draw comes from ``numpy.random.default_rng(seed)``: the same seed gives the same
result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ncs.errors import ValidationError

__all__ = [
    "COHORT_COLUMNS",
    "DEFAULT_MIX",
    "NERVE_LAYOUTS",
    "SimulatedCMAP",
    "cmap",
    "cohort",
    "dispersion_only_area_loss",
    "unit_waveform",
]

_RHEE_1990 = (
    "Rhee EK, England JD, Sumner AJ. A computer simulation of conduction block: effects "
    "produced by actual block versus interphase cancellation. Ann Neurol. 1990;28(2):146-156."
)


def unit_waveform(
    time_ms: Any,
    *,
    negative_ms: float = 4.0,
    positive_ms: float = 6.0,
    positive_ratio: float = 0.4,
) -> np.ndarray:
    """Biphasic motor-unit potential of unit negative amplitude, starting at time 0.

    A negative half-sine of duration ``negative_ms`` and amplitude 1 followed by a positive
    half-sine of duration ``positive_ms`` and amplitude ``positive_ratio``; zero elsewhere.

    Parameters
    ----------
    time_ms : array_like
        Time from the start of the potential. [ms]
    negative_ms : float, default 4.0
        Duration of the negative phase. [ms]
    positive_ms : float, default 6.0
        Duration of the positive phase. [ms]
    positive_ratio : float, default 0.4
        Positive-phase amplitude as a fraction of the negative-phase amplitude.

    Returns
    -------
    numpy.ndarray
        The potential (negative phase negative), same shape as ``time_ms``.

    Notes
    -----
    Negative-phase area ``2 * negative_ms / pi``; positive-phase area
    ``2 * positive_ratio * positive_ms / pi``. Half-sine phases are a common idealisation of
    surface motor-unit potentials in dispersion models (e.g. Rhee et al. 1990 used
    biphasic potentials of this kind).

    References
    ----------
    .. [1] Rhee EK, England JD, Sumner AJ. A computer simulation of conduction block: effects
       produced by actual block versus interphase cancellation. Ann Neurol.
       1990;28(2):146-156.
    """
    tau = np.asarray(time_ms, dtype=float)
    neg = (tau >= 0) & (tau < negative_ms)
    pos = (tau >= negative_ms) & (tau < negative_ms + positive_ms)
    out = np.zeros_like(tau)
    out = np.where(neg, -np.sin(np.pi * tau / negative_ms), out)
    out = np.where(pos, positive_ratio * np.sin(np.pi * (tau - negative_ms) / positive_ms), out)
    return out


@dataclass(frozen=True)
class SimulatedCMAP:
    """CMAPs simulated by :func:`cmap`, with the ground truth that produced them.

    Attributes
    ----------
    traces : numpy.ndarray
        ``(n_sites, n_samples)`` traces with noise and baseline offset, negative phase
        negative. [mV]
    clean : numpy.ndarray
        The same without noise or offset. [mV]
    fs_hz : float
        Sampling rate. [Hz]
    stim_ms : float
        Stimulus time from the start of the sweep. [ms]
    distance_mm : numpy.ndarray
        Conduction distance from each stimulation site to the muscle. [mm]
    unit_amplitude_mv : numpy.ndarray
        Negative-phase amplitude of each motor unit; they sum to ``amplitude_mv``. [mV]
    unit_cv_m_s : numpy.ndarray
        Conduction velocity of each unit's axon. [m/s]
    unit_latency_ms : numpy.ndarray
        ``(n_sites, n_units)`` arrival time of each unit's potential at the muscle. [ms]
    conducting : numpy.ndarray
        ``(n_sites, n_units)`` whether each unit conducts from that site (False = blocked).
    onset_ms : numpy.ndarray
        Earliest arrival among conducting units, per site (the true onset latency). [ms]

    References
    ----------
    .. [1] Rhee EK, England JD, Sumner AJ. A computer simulation of conduction block: effects
       produced by actual block versus interphase cancellation. Ann Neurol.
       1990;28(2):146-156.
    """

    traces: np.ndarray
    clean: np.ndarray
    fs_hz: float
    stim_ms: float
    distance_mm: np.ndarray
    unit_amplitude_mv: np.ndarray
    unit_cv_m_s: np.ndarray
    unit_latency_ms: np.ndarray
    conducting: np.ndarray
    onset_ms: np.ndarray

    @property
    def time_ms(self) -> np.ndarray:
        """Time of each sample from the stimulus. [ms]"""
        return np.arange(self.traces.shape[1]) * (1000.0 / self.fs_hz) - self.stim_ms

    def measure(self, **kwargs: Any) -> pd.DataFrame:
        """Measure the (noisy) traces with :func:`ncs.waveform.measure`.

        Parameters
        ----------
        **kwargs
            Passed to :func:`ncs.waveform.measure`.

        Returns
        -------
        pandas.DataFrame
            One row per site, with ``distance_mm`` first.

        References
        ----------
        .. [1] Stålberg E, van Dijk H, Falck B, et al. Standards for quantification of EMG
           and neurography. Clin Neurophysiol. 2019;130(9):1688-1729.
        """
        from ncs.waveform import measure

        out = measure(self.traces, self.fs_hz, self.stim_ms, **kwargs)
        out.insert(0, "distance_mm", self.distance_mm)
        return out

    def to_traces(self, sites: Sequence[str] | None = None) -> Any:
        """The traces as :class:`ncs.waveform.Traces` (e.g. for plotting).

        Parameters
        ----------
        sites : sequence of str, optional
            One label per trace; default ``"<distance> mm"``.

        Returns
        -------
        ncs.waveform.Traces
            Traces with ``label`` and ``distance_mm`` site columns.

        References
        ----------
        .. [1] Stålberg E, van Dijk H, Falck B, et al. Standards for quantification of EMG
           and neurography. Clin Neurophysiol. 2019;130(9):1688-1729.
        """
        from ncs.waveform import Traces

        labels = [f"{d:g} mm" for d in self.distance_mm] if sites is None else list(sites)
        frame = pd.DataFrame(
            {"label": pd.Series(labels, dtype="string"), "distance_mm": self.distance_mm}
        )
        return Traces(data_mv=self.traces, fs_hz=self.fs_hz, stim_ms=self.stim_ms, sites=frame)


def _check_finite(
    problems: list[tuple[Any, Any, str]],
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    strict: bool = False,
) -> None:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        problems.append((None, name, "must be finite"))
    elif minimum is not None and (np.any(arr <= minimum) if strict else np.any(arr < minimum)):
        problems.append((None, name, f"must be {'>' if strict else '>='} {minimum:g}"))


def _population(
    n_units: int,
    amplitude_mv: float,
    cv_m_s: float,
    cv_spread: float,
    unit_amplitude_spread: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified motor-unit population: amplitudes and conduction velocities.

    Velocities sit at the mid-quantiles of a uniform distribution on
    ``cv_m_s * (1 +/- cv_spread / 2)``; amplitudes at the mid-quantiles of a log-normal
    distribution (sigma ``unit_amplitude_spread``), scaled to sum to ``amplitude_mv`` and
    paired with velocities by a random permutation. Quantiles rather than random draws keep
    the population's shape exact for any ``n_units``.
    """
    from scipy.special import ndtri  # lazy: scipy is only needed here

    q = (np.arange(n_units) + 0.5) / n_units
    cvs = cv_m_s * (1.0 + cv_spread * (q - 0.5))
    amps = np.exp(unit_amplitude_spread * ndtri(q))
    amps = amps[rng.permutation(n_units)]
    amps *= amplitude_mv / amps.sum()
    return amps, cvs


def cmap(
    distance_mm: float | Sequence[float] | np.ndarray,
    *,
    n_units: int = 100,
    amplitude_mv: float = 10.0,
    cv_m_s: float = 55.0,
    cv_spread: float = 0.2,
    unit_amplitude_spread: float = 0.6,
    residual_latency_ms: float = 2.0,
    unit_negative_ms: float = 4.0,
    unit_positive_ms: float = 6.0,
    unit_positive_ratio: float = 0.4,
    conducting_fraction: float | Sequence[float] | np.ndarray = 1.0,
    fs_hz: float = 20_000.0,
    sweep_ms: float = 50.0,
    stim_ms: float = 2.0,
    noise_mv: float = 0.0,
    baseline_mv: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> SimulatedCMAP:
    """Simulate CMAPs as the sum of motor-unit potentials, one trace per stimulation site.

    Parameters
    ----------
    distance_mm : float or sequence of float
        Conduction distance from each stimulation site to the muscle (cumulative, not per
        segment). One trace per value; all share the same motor-unit population. [mm]
    n_units : int, default 100
        Number of motor units.
    amplitude_mv : float, default 10.0
        Sum of the units' negative-phase amplitudes: the CMAP amplitude if all units arrive
        together. [mV]
    cv_m_s : float, default 55.0
        Mean conduction velocity of the units' axons. [m/s]
    cv_spread : float, default 0.2
        Relative range of velocities, ``(fastest - slowest) / mean``; velocities are
        uniformly distributed over ``cv_m_s * (1 +/- cv_spread / 2)``. Must be < 2.
    unit_amplitude_spread : float, default 0.6
        Log-normal sigma of unit amplitudes (0 = all units equal).
    residual_latency_ms : float, default 2.0
        Latency not explained by ``distance / velocity`` (terminal slowing, neuromuscular
        transmission), added to every unit. [ms]
    unit_negative_ms, unit_positive_ms, unit_positive_ratio : float
        Motor-unit potential shape, see :func:`unit_waveform`. [ms], [ms], [-]
    conducting_fraction : float or sequence of float, default 1.0
        Fraction of units that conduct from each site (1 = no block). Blocked units are the
        same random subset at every site, nested as the fraction falls.
    fs_hz : float, default 20000
        Sampling rate. [Hz]
    sweep_ms : float, default 50
        Sweep length. [ms]
    stim_ms : float, default 2.0
        Stimulus time from the start of the sweep (pre-stimulus baseline). [ms]
    noise_mv : float, default 0.0
        Standard deviation of white Gaussian noise added to ``traces``. [mV]
    baseline_mv : float, default 0.0
        Constant offset added to ``traces``. [mV]
    seed : int or numpy.random.Generator, optional
        Seed for the pairing of amplitudes and velocities, the blocked subset and the noise.

    Returns
    -------
    SimulatedCMAP
        Traces (noisy and clean) and the ground truth (unit amplitudes, velocities,
        latencies, true onsets).

    Raises
    ------
    ncs.errors.ValidationError
        Non-finite or out-of-range parameters.

    Notes
    -----
    Unit ``i`` stimulated at distance ``D`` arrives at
    ``residual_latency_ms + D / cv_i`` (mm divided by m/s is ms) and contributes
    ``a_i * u(t - latency_i)`` where ``u`` is :func:`unit_waveform`. With
    ``cv_spread = 0`` all units arrive together: the CMAP is ``amplitude_mv * u`` exactly,
    with negative-peak area ``2 * amplitude_mv * unit_negative_ms / pi`` and duration
    ``unit_negative_ms``. As ``distance * spread`` grows, the negative phases of slow units
    overlap the positive phases of fast ones (interphase cancellation): amplitude and area
    fall and duration grows with every axon conducting (Rhee et al. 1990; Kimura et al.
    1986).

    References
    ----------
    .. [1] Rhee EK, England JD, Sumner AJ. A computer simulation of conduction block: effects
       produced by actual block versus interphase cancellation. Ann Neurol.
       1990;28(2):146-156.
    .. [2] Kimura J, Machida M, Ishida T, et al. Relation between size of compound sensory or
       muscle action potentials, and length of nerve segment. Neurology.
       1986;36(5):647-652.

    Examples
    --------
    >>> sim = cmap([70.0, 300.0], cv_spread=0.0, amplitude_mv=8.0)
    >>> m = sim.measure()
    >>> [round(v, 2) for v in m["amplitude_mv"]]
    [8.0, 8.0]
    >>> [round(v, 2) for v in m["latency_ms"]]     # 2.0 + 70/55 and 2.0 + 300/55
    [3.27, 7.45]
    """
    distances = np.atleast_1d(np.asarray(distance_mm, dtype=float))
    problems: list[tuple[Any, Any, str]] = []
    if distances.ndim != 1:
        problems.append((None, "distance_mm", "must be a scalar or 1-D"))
    _check_finite(problems, "distance_mm", distances, minimum=0.0)
    if not isinstance(n_units, int | np.integer) or n_units < 1:
        problems.append((None, "n_units", "must be a positive integer"))
    _check_finite(problems, "amplitude_mv", amplitude_mv, minimum=0.0, strict=True)
    _check_finite(problems, "cv_m_s", cv_m_s, minimum=0.0, strict=True)
    _check_finite(problems, "cv_spread", cv_spread, minimum=0.0)
    if np.isfinite(cv_spread) and cv_spread >= 2.0:
        problems.append((None, "cv_spread", "must be < 2 (the slowest velocity must be > 0)"))
    _check_finite(problems, "unit_amplitude_spread", unit_amplitude_spread, minimum=0.0)
    _check_finite(problems, "residual_latency_ms", residual_latency_ms, minimum=0.0)
    _check_finite(problems, "unit_negative_ms", unit_negative_ms, minimum=0.0, strict=True)
    _check_finite(problems, "unit_positive_ms", unit_positive_ms, minimum=0.0, strict=True)
    _check_finite(problems, "unit_positive_ratio", unit_positive_ratio, minimum=0.0)
    fractions = np.broadcast_to(np.asarray(conducting_fraction, dtype=float), distances.shape)
    _check_finite(problems, "conducting_fraction", fractions, minimum=0.0)
    if np.any(fractions > 1):
        problems.append((None, "conducting_fraction", "must be <= 1"))
    _check_finite(problems, "fs_hz", fs_hz, minimum=0.0, strict=True)
    _check_finite(problems, "sweep_ms", sweep_ms, minimum=0.0, strict=True)
    _check_finite(problems, "stim_ms", stim_ms, minimum=0.0)
    _check_finite(problems, "noise_mv", noise_mv, minimum=0.0)
    _check_finite(problems, "baseline_mv", baseline_mv)
    if problems:
        raise ValidationError(problems)

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    amps, cvs = _population(
        int(n_units), amplitude_mv, cv_m_s, cv_spread, unit_amplitude_spread, rng
    )
    block_rank = rng.permutation(int(n_units))  # units with the lowest ranks block first
    n_blocked = np.rint((1.0 - fractions) * n_units).astype(int)
    conducting = block_rank[np.newaxis, :] >= n_blocked[:, np.newaxis]

    n_samples = round(sweep_ms * fs_hz / 1000.0)
    time_ms = np.arange(n_samples) * (1000.0 / fs_hz) - stim_ms
    latency = residual_latency_ms + distances[:, np.newaxis] / cvs[np.newaxis, :]
    weights = np.where(conducting, amps[np.newaxis, :], 0.0)
    clean = np.empty((distances.size, n_samples))
    for k in range(distances.size):  # one (n_units, n_samples) block per site
        shapes = unit_waveform(
            time_ms[np.newaxis, :] - latency[k][:, np.newaxis],
            negative_ms=unit_negative_ms,
            positive_ms=unit_positive_ms,
            positive_ratio=unit_positive_ratio,
        )
        clean[k] = weights[k] @ shapes
    traces = clean + baseline_mv
    if noise_mv > 0:
        traces = traces + rng.normal(0.0, noise_mv, size=clean.shape)
    onset = np.where(conducting, latency, np.inf).min(axis=1)
    onset = np.where(np.isfinite(onset), onset, np.nan)
    return SimulatedCMAP(
        traces=traces,
        clean=clean,
        fs_hz=float(fs_hz),
        stim_ms=float(stim_ms),
        distance_mm=distances,
        unit_amplitude_mv=amps,
        unit_cv_m_s=cvs,
        unit_latency_ms=latency,
        conducting=conducting,
        onset_ms=onset,
    )


def dispersion_only_area_loss(
    distance_mm: float | Sequence[float] | np.ndarray,
    cv_spread: float | Sequence[float] | np.ndarray,
    *,
    distal_distance_mm: float = 70.0,
    cv_m_s: float = 55.0,
    n_units: int = 200,
    unit_amplitude_spread: float = 0.6,
    unit_negative_ms: float = 4.0,
    unit_positive_ms: float = 6.0,
    unit_positive_ratio: float = 0.4,
    fs_hz: float = 20_000.0,
    seed: int = 0,
) -> pd.DataFrame:
    """CMAP area and amplitude lost over a nerve segment by temporal dispersion alone.

    Simulates the same motor-unit population, all conducting, stimulated distally (at
    ``distal_distance_mm`` from the muscle) and proximally (``distance_mm`` further), measures
    both noise-free CMAPs with :func:`ncs.waveform.measure` and reports the drops. A measured
    area drop larger than this number, for a plausible velocity spread, is more than
    dispersion (phase cancellation) explains.

    Parameters
    ----------
    distance_mm : float or array_like
        Length of the segment between the two stimulation sites. [mm]
    cv_spread : float or array_like
        Relative range of conduction velocities, ``(fastest - slowest) / mean`` (see
        :func:`cmap`). Broadcast against ``distance_mm``.
    distal_distance_mm : float, default 70.0
        Conduction distance from the distal site to the muscle. [mm]
    cv_m_s : float, default 55.0
        Mean conduction velocity. [m/s]
    n_units : int, default 200
        Number of motor units.
    unit_amplitude_spread, unit_negative_ms, unit_positive_ms, unit_positive_ratio : float
        Population and unit shape, see :func:`cmap`.
    fs_hz : float, default 20000
        Sampling rate of the simulation. [Hz]
    seed : int, default 0
        Seed of the amplitude/velocity pairing (the result is deterministic for a seed).

    Returns
    -------
    pandas.DataFrame
        One row per broadcast pair: ``distance_mm``, ``cv_spread``, ``area_loss_pct``,
        ``amplitude_loss_pct``, ``duration_change_pct`` (negative-peak measures, proximal
        relative to distal, in %), ``distal_area_mvms``, ``proximal_area_mvms``.

    Notes
    -----
    Percentages are ``(distal - proximal) / distal * 100`` for the losses and
    ``(proximal - distal) / distal * 100`` for the duration change. The numbers depend on
    the unit potential's shape and on the velocity distribution; they are a model's answer,
    not a clinical threshold (``docs/waveforms.md`` has a worked table and the limitations).

    References
    ----------
    .. [1] Rhee EK, England JD, Sumner AJ. A computer simulation of conduction block: effects
       produced by actual block versus interphase cancellation. Ann Neurol.
       1990;28(2):146-156.
    .. [2] Olney RK. Consensus criteria for the diagnosis of partial conduction block.
       Muscle Nerve Suppl. 1999;8:S225-S229.

    Examples
    --------
    >>> table = dispersion_only_area_loss([100.0, 300.0], 0.0)
    >>> [round(v, 3) + 0.0 for v in table["area_loss_pct"]]     # no spread, no loss
    [0.0, 0.0]
    >>> row = dispersion_only_area_loss(300.0, 0.4).iloc[0]
    >>> float(row["area_loss_pct"].round(1)), float(row["amplitude_loss_pct"].round(1))
    (4.6, 18.7)
    """
    from ncs.waveform import measure

    distances, spreads = np.broadcast_arrays(
        np.asarray(distance_mm, dtype=float), np.asarray(cv_spread, dtype=float)
    )
    distances = distances.ravel()
    spreads = spreads.ravel()
    problems: list[tuple[Any, Any, str]] = []
    _check_finite(problems, "distance_mm", distances, minimum=0.0)
    _check_finite(problems, "cv_spread", spreads, minimum=0.0)
    if np.any(spreads >= 2):
        problems.append((None, "cv_spread", "must be < 2"))
    if problems:
        raise ValidationError(problems)

    cols = {
        k: np.full(distances.size, np.nan)
        for k in (
            "area_loss_pct",
            "amplitude_loss_pct",
            "duration_change_pct",
            "distal_area_mvms",
            "proximal_area_mvms",
        )
    }
    longest = distal_distance_mm + (float(distances.max()) if distances.size else 0.0)
    slowest = cv_m_s * (1.0 - float(spreads.max(initial=0.0)) / 2.0)
    sweep_ms = 2.0 + 2.0 + longest / slowest + 3.0 * (unit_negative_ms + unit_positive_ms)
    for spread in np.unique(spreads):  # one population per spread, all distances at once
        sel = np.flatnonzero(spreads == spread)
        sim = cmap(
            np.concatenate([[distal_distance_mm], distal_distance_mm + distances[sel]]),
            n_units=n_units,
            amplitude_mv=10.0,
            cv_m_s=cv_m_s,
            cv_spread=float(spread),
            unit_amplitude_spread=unit_amplitude_spread,
            unit_negative_ms=unit_negative_ms,
            unit_positive_ms=unit_positive_ms,
            unit_positive_ratio=unit_positive_ratio,
            fs_hz=fs_hz,
            sweep_ms=sweep_ms,
            seed=seed,
        )
        m = measure(sim.clean, sim.fs_hz, sim.stim_ms, onset_window_ms=(1.0, sweep_ms - 3.0))
        area = m["area_mvms"].to_numpy()
        amp = m["amplitude_mv"].to_numpy()
        dur = m["duration_ms"].to_numpy()
        cols["area_loss_pct"][sel] = (area[0] - area[1:]) / area[0] * 100.0
        cols["amplitude_loss_pct"][sel] = (amp[0] - amp[1:]) / amp[0] * 100.0
        cols["duration_change_pct"][sel] = (dur[1:] - dur[0]) / dur[0] * 100.0
        cols["distal_area_mvms"][sel] = area[0]
        cols["proximal_area_mvms"][sel] = area[1:]
    return pd.DataFrame({"distance_mm": distances, "cv_spread": spreads, **cols})


# =============================================================================================
# Synthetic cohorts
# =============================================================================================

#: Columns of :func:`cohort`, in order (DESIGN.md "tidy input").
COHORT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "nerve",
    "side",
    "site",
    "site_order",
    "response",
    "latency_ms",
    "amplitude_mv",
    "area_mvms",
    "duration_ms",
    "distance_mm",
    "muscle",
    "f_latency_ms",
    "f_persistence_pct",
    "distal_duration_ms",
    "lff_hz",
)

#: Default mix of nerve patterns in :func:`cohort` (fractions of nerves).
DEFAULT_MIX: Mapping[str, float] = {
    "normal": 0.55,
    "block": 0.13,
    "dispersion": 0.12,
    "axonal": 0.15,
    "absent": 0.05,
}

_PATTERNS = ("normal", "block", "dispersion", "axonal", "absent")


@dataclass(frozen=True)
class _Layout:
    """Plausible adult values for one nerve (synthetic; not normative reference values)."""

    muscle: str
    sites: tuple[str, ...]
    distance_mm: tuple[tuple[float, float], ...]  # (mean, sd) per site, distal first
    distal_latency_ms: tuple[float, float]  # onset latency (mean, sd)
    cv_m_s: tuple[float, float]
    amplitude_mv: tuple[float, float]  # log-normal (median, sigma)
    duration_ms: tuple[float, float]  # negative-peak duration (mean, sd)
    f_latency_ms: tuple[float, float]


#: Site layouts and plausible adult values per nerve used by :func:`cohort`.
NERVE_LAYOUTS: Mapping[str, _Layout] = {
    "median": _Layout(
        "APB",
        ("wrist", "elbow", "axilla"),
        ((70, 0), (235, 15), (130, 12)),
        (3.5, 0.35),
        (57.0, 4.0),
        (9.0, 0.3),
        (5.0, 0.5),
        (27.0, 2.0),
    ),
    "ulnar": _Layout(
        "ADM",
        ("wrist", "below elbow", "above elbow", "axilla"),
        ((70, 0), (220, 15), (100, 8), (110, 10)),
        (2.8, 0.3),
        (60.0, 4.0),
        (10.0, 0.25),
        (5.5, 0.5),
        (28.0, 2.0),
    ),
    "peroneal": _Layout(
        "EDB",
        ("ankle", "below fibular head", "popliteal fossa"),
        ((80, 0), (320, 25), (95, 8)),
        (4.5, 0.5),
        (48.0, 3.5),
        (5.5, 0.4),
        (5.8, 0.6),
        (47.0, 3.0),
    ),
    "tibial": _Layout(
        "AH",
        ("ankle", "popliteal fossa"),
        ((100, 0), (400, 30)),
        (4.4, 0.5),
        (47.0, 3.5),
        (12.0, 0.35),
        (5.8, 0.6),
        (49.0, 3.0),
    ),
}


def _uniform(rng: np.random.Generator, low: float, high: float, shape: Any) -> np.ndarray:
    return rng.uniform(low, high, size=shape)


#: Distal amplitudes are drawn within this many standard deviations of the log-normal's
#: centre: the tail beyond would give CMAPs no muscle produces (the plausibility checks of
#: :mod:`ncs.plausibility` would rightly set them aside as slips).
AMPLITUDE_SD_LIMIT = 2.5


def _truncated_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normal draws within +/- :data:`AMPLITUDE_SD_LIMIT` (inverse CDF)."""
    from scipy.special import ndtr, ndtri  # lazy: scipy is only needed here

    edge = float(ndtr(-AMPLITUDE_SD_LIMIT))
    return ndtri(rng.uniform(edge, 1.0 - edge, n))


def _string_column(names: Sequence[str], codes: np.ndarray) -> pd.Series:
    """A string column from small-vocabulary codes, built without a per-row Python loop."""
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(names))).astype("string")


def cohort(
    n_patients: int,
    *,
    nerves: Sequence[str] = ("median", "ulnar", "peroneal", "tibial"),
    both_sides: bool = False,
    mix: Mapping[str, float] | None = None,
    lff_hz: Sequence[float] = (2.0, 10.0, 20.0),
    truth: bool = False,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Synthetic tidy sites table: ``n_patients`` patients, each nerve one of five patterns.

    Parameters
    ----------
    n_patients : int
        Number of patients.
    nerves : sequence of str, default ("median", "ulnar", "peroneal", "tibial")
        Nerves studied in every patient (keys of :data:`NERVE_LAYOUTS`).
    both_sides : bool, default False
        Study both sides; default one side per patient, chosen at random.
    mix : mapping, optional
        Fraction of nerves per pattern: ``normal``, ``block``, ``dispersion``, ``axonal``,
        ``absent`` (missing keys are 0; normalised to sum to 1). Default
        :data:`DEFAULT_MIX`.
    lff_hz : sequence of float, default (2, 10, 20)
        Low-frequency filter settings; each patient gets one at random. [Hz]
    truth : bool, default False
        Add a ``pattern`` column with each nerve's generating pattern (ground truth).
    seed : int or numpy.random.Generator, optional
        Random seed; the same seed gives the same table.

    Returns
    -------
    pandas.DataFrame
        One row per stimulation site with the columns of :data:`COHORT_COLUMNS` (and
        ``pattern`` when ``truth``), sorted by patient, side, nerve and ``site_order``.

    Raises
    ------
    ncs.errors.ValidationError
        Unknown nerve or pattern, negative fractions, ``n_patients < 0``.

    Notes
    -----
    Per nerve, a distal CMAP is drawn (onset latency, log-normal amplitude truncated at
    :data:`AMPLITUDE_SD_LIMIT` standard deviations, negative-peak
    duration, shape factor ``area / (amplitude * duration)`` in 0.55-0.66, close to the
    ``2/pi`` of a half-sine), then each more proximal site changes amplitude, duration and
    shape by a ratio drawn for its segment, and the area follows from
    ``area = amplitude * duration * shape``:

    - *normal*: amplitude ratio 0.88-1.0, duration ratio 1.0-1.08 per segment;
    - *block* (one random segment): amplitude ratio 0.1-0.6 with duration ratio 0.95-1.10,
      so area falls with amplitude; 10% of blocked nerves are complete (proximal sites
      absent); conduction velocity 85-100% of normal in that segment;
    - *dispersion* (one random segment and all proximal to it): duration ratio 1.3-2.0,
      amplitude ratio 0.45-0.8, shape ratio 0.85-0.95 (area falls less than amplitude),
      velocity 55-80% of normal, distal latency x1.1-1.6, F latency x1.1-1.4; half of them
      also have a prolonged distal CMAP duration;
    - *axonal*: amplitudes x0.1-0.45 at every site, velocity 85-100% of normal;
    - *absent*: no response at any site (amplitude and area 0, latency and duration missing,
      F persistence 0).

    Latencies accumulate ``distance / velocity`` per segment, so a proximal latency is
    always longer than the distal one. Durations are scaled by
    ``1 + 0.06 * log10(20 / lff_hz)`` (longer with a lower low-frequency filter; cf. Mitsuma
    et al. 2015). ``f_latency_ms``, ``f_persistence_pct`` and ``distal_duration_ms`` are on
    the most distal row of each nerve only. All values are synthetic: they are plausible,
    not normative. Generation is vectorised (one loop over the few nerve types, none over
    patients or rows).

    References
    ----------
    .. [1] Rhee EK, England JD, Sumner AJ. A computer simulation of conduction block: effects
       produced by actual block versus interphase cancellation. Ann Neurol.
       1990;28(2):146-156.
    .. [2] Isose S, Kuwabara S, Kokubun N, et al. Utility of the distal compound muscle action
       potential duration for diagnosis of demyelinating neuropathies. J Peripher Nerv Syst.
       2009;14(3):151-158.
    .. [3] Mitsuma S, Van den Bergh P, Rajabally YA, et al. Effects of low frequency filtering
       on distal compound muscle action potential duration for diagnosis of CIDP: a
       multicenter study. J Neurol Sci. 2015;353(1-2):64-67.

    Examples
    --------
    >>> sites = cohort(2, seed=1)
    >>> sites.groupby(["patient_id", "nerve"]).size().to_dict()["P000000", "ulnar"]
    4
    """
    problems: list[tuple[Any, Any, str]] = []
    if not isinstance(n_patients, int | np.integer) or n_patients < 0:
        problems.append((None, "n_patients", "must be a non-negative integer"))
    nerve_list = [str(n).lower() for n in nerves]
    if len(set(nerve_list)) != len(nerve_list):
        problems.append((None, "nerves", "each nerve may be listed once"))
    for n in nerve_list:
        if n not in NERVE_LAYOUTS:
            known = sorted(NERVE_LAYOUTS)
            problems.append((None, "nerves", f"unknown nerve {n!r}; known: {known}"))
    if not nerve_list:
        problems.append((None, "nerves", "give at least one nerve"))
    mix_map = dict(DEFAULT_MIX if mix is None else mix)
    for key, value in mix_map.items():
        if key not in _PATTERNS:
            problems.append((None, "mix", f"unknown pattern {key!r}; known: {list(_PATTERNS)}"))
        elif not (math.isfinite(float(value)) and float(value) >= 0):
            problems.append((None, "mix", f"fraction of {key!r} must be finite and >= 0"))
    weights = np.array([float(mix_map.get(p, 0.0)) for p in _PATTERNS])
    if not problems and weights.sum() <= 0:
        problems.append((None, "mix", "fractions must not all be 0"))
    lffs = np.asarray(lff_hz, dtype=float)
    if lffs.size == 0 or not np.all(np.isfinite(lffs)) or np.any(lffs <= 0):
        problems.append((None, "lff_hz", "must be one or more finite values > 0"))
    if problems:
        raise ValidationError(problems)
    weights = weights / weights.sum()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    n_pat = int(n_patients)
    n_sides = 2 if both_sides else 1
    patient_lff = lffs[rng.integers(0, lffs.size, n_pat)]
    patient_side = rng.integers(0, 2, n_pat)  # 0 = L, 1 = R (one-side studies)
    # Patient-level scaling (height) shared by F latencies and distances.
    patient_height = rng.normal(1.0, 0.05, n_pat)

    blocks: list[dict[str, np.ndarray]] = []
    for nerve_code, name in enumerate(nerve_list):
        lay = NERVE_LAYOUTS[name]
        n_sites = len(lay.sites)
        # one row per (patient, side) nerve of this type
        pat = np.repeat(np.arange(n_pat), n_sides)
        side = np.tile(np.arange(n_sides), n_pat) if both_sides else patient_side[pat]
        n = pat.size
        pattern = rng.choice(len(_PATTERNS), size=n, p=weights)
        is_block = pattern == 1
        is_disp = pattern == 2
        is_axon = pattern == 3
        is_absent = pattern == 4
        height = patient_height[pat]

        # distances (mm): distal fixed by the recording montage, segments scale with height
        dist = np.empty((n, n_sites))
        for s, (mean, sd) in enumerate(lay.distance_mm):
            if sd == 0:
                dist[:, s] = mean
            else:
                dist[:, s] = np.maximum(rng.normal(mean, sd, n) * height, 0.5 * mean)
        dist = np.rint(dist)

        # segment affected by block / dispersion: 1..n_sites-1 (segment s joins s-1 and s)
        seg = rng.integers(1, n_sites, n) if n_sites > 1 else np.ones(n, dtype=int)
        seg_cols = np.arange(n_sites)[np.newaxis, :]
        at_seg = seg_cols == seg[:, np.newaxis]
        from_seg = seg_cols >= seg[:, np.newaxis]

        # velocities per segment (column 0 unused: distal latency is drawn directly)
        cv = rng.normal(lay.cv_m_s[0], lay.cv_m_s[1], (n, n_sites))
        cv *= np.where(is_axon[:, None], _uniform(rng, 0.85, 1.0, (n, 1)), 1.0)
        cv *= np.where(is_block[:, None] & at_seg, _uniform(rng, 0.85, 1.0, (n, n_sites)), 1.0)
        cv *= np.where(is_disp[:, None] & from_seg, _uniform(rng, 0.55, 0.8, (n, n_sites)), 1.0)
        cv = np.maximum(cv, 15.0)
        dml = np.maximum(rng.normal(*lay.distal_latency_ms, n), 0.6 * lay.distal_latency_ms[0])
        dml *= np.where(is_disp, _uniform(rng, 1.1, 1.6, n), 1.0)
        seg_time = dist / cv
        seg_time[:, 0] = dml
        latency = np.cumsum(seg_time, axis=1)

        # amplitudes: distal log-normal, then per-segment ratios
        amp0 = lay.amplitude_mv[0] * np.exp(lay.amplitude_mv[1] * _truncated_normal(rng, n))
        amp0 *= np.where(is_axon, _uniform(rng, 0.1, 0.45, n), 1.0)
        r_amp = _uniform(rng, 0.88, 1.0, (n, n_sites))
        r_dur = _uniform(rng, 1.0, 1.08, (n, n_sites))
        r_shape = _uniform(rng, 0.98, 1.01, (n, n_sites))
        blk = is_block[:, None] & at_seg
        r_amp = np.where(blk, _uniform(rng, 0.1, 0.6, (n, n_sites)), r_amp)
        r_dur = np.where(blk, _uniform(rng, 0.95, 1.10, (n, n_sites)), r_dur)
        dsp = is_disp[:, None] & at_seg
        r_amp = np.where(dsp, _uniform(rng, 0.45, 0.8, (n, n_sites)), r_amp)
        r_dur = np.where(dsp, _uniform(rng, 1.3, 2.0, (n, n_sites)), r_dur)
        r_shape = np.where(dsp, _uniform(rng, 0.85, 0.95, (n, n_sites)), r_shape)
        r_amp[:, 0] = 1.0
        r_dur[:, 0] = 1.0
        r_shape[:, 0] = 1.0
        amplitude = amp0[:, None] * np.cumprod(r_amp, axis=1)

        lff_factor = 1.0 + 0.06 * np.log10(20.0 / patient_lff[pat])
        dur0 = np.maximum(rng.normal(*lay.duration_ms, n), 0.6 * lay.duration_ms[0]) * lff_factor
        dur0 *= np.where(is_disp, _uniform(rng, 1.0, 1.3, n), 1.0)
        duration = dur0[:, None] * np.cumprod(r_dur, axis=1)
        shape0 = _uniform(rng, 0.55, 0.66, n)
        shape = shape0[:, None] * np.cumprod(r_shape, axis=1)
        area = amplitude * duration * shape

        # distal CMAP duration (onset of first to return of last negative peak)
        distal_dur = dur0 * _uniform(rng, 1.0, 1.12, n)
        distal_dur *= np.where(is_disp & (rng.random(n) < 0.5), _uniform(rng, 1.3, 1.9, n), 1.0)

        # responses: absent nerves everywhere; complete block proximal to the block segment
        absent = np.broadcast_to(is_absent[:, None], (n, n_sites)).copy()
        complete = is_block & (rng.random(n) < 0.10)
        absent |= complete[:, None] & from_seg

        # F waves (on the distal row)
        f_lat = rng.normal(*lay.f_latency_ms, n) * height
        f_lat *= np.where(is_disp, _uniform(rng, 1.1, 1.4, n), 1.0)
        f_lat *= np.where(is_axon, _uniform(rng, 1.0, 1.08, n), 1.0)
        f_lat = np.maximum(f_lat, latency[:, 0] * 2.0 + 5.0)
        f_pers = _uniform(rng, 60.0, 100.0, n)
        f_pers = np.where(is_axon, _uniform(rng, 20.0, 80.0, n), f_pers)
        f_pers = np.where(is_disp, _uniform(rng, 20.0, 90.0, n), f_pers)
        f_pers = np.where(is_absent, 0.0, f_pers)
        f_lat = np.where(is_absent, np.nan, f_lat)

        # round to reporting precision, keeping values strictly positive
        latency = np.round(latency, 2)
        amplitude = np.maximum(np.round(amplitude, 2), 0.01)
        duration = np.round(duration, 2)
        area = np.maximum(np.round(area, 2), 0.01)
        latency = np.where(absent, np.nan, latency)
        duration = np.where(absent, np.nan, duration)
        amplitude = np.where(absent, 0.0, amplitude)
        area = np.where(absent, 0.0, area)

        distal_only = np.zeros((n, n_sites), dtype=bool)
        distal_only[:, 0] = True
        blocks.append(
            {
                "pat": np.repeat(pat, n_sites),
                "side": np.repeat(side, n_sites),
                "nerve": np.full(n * n_sites, nerve_code),
                "site": np.tile(np.arange(n_sites), n),
                "absent": absent.ravel(),
                "latency_ms": latency.ravel(),
                "amplitude_mv": amplitude.ravel(),
                "area_mvms": area.ravel(),
                "duration_ms": duration.ravel(),
                "distance_mm": dist.ravel(),
                "f_latency_ms": np.where(distal_only, np.round(f_lat, 1)[:, None], np.nan).ravel(),
                "f_persistence_pct": np.where(
                    distal_only, np.round(f_pers, 0)[:, None], np.nan
                ).ravel(),
                "distal_duration_ms": np.where(
                    distal_only & ~absent, np.round(distal_dur, 2)[:, None], np.nan
                ).ravel(),
                "lff_hz": np.repeat(patient_lff[pat], n_sites),
                "pattern": np.repeat(pattern, n_sites),
            }
        )

    merged = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    order = np.lexsort((merged["site"], merged["nerve"], merged["side"], merged["pat"]))
    merged = {k: v[order] for k, v in merged.items()}

    width = max(6, len(str(max(n_pat - 1, 0))))
    ids = pd.Index(np.arange(n_pat)).astype(str).str.zfill(width)
    patient_names = ("P" + ids).to_numpy(dtype=object)
    site_names = sorted({s for name in nerve_list for s in NERVE_LAYOUTS[name].sites})
    site_lookup = {s: i for i, s in enumerate(site_names)}
    # (nerve code, site position) -> site-name code, as a small table
    max_sites = max(len(NERVE_LAYOUTS[n].sites) for n in nerve_list)
    site_table = np.zeros((len(nerve_list), max_sites), dtype=np.int64)
    muscle_names = [NERVE_LAYOUTS[n].muscle for n in nerve_list]
    for i, name in enumerate(nerve_list):
        for s, site in enumerate(NERVE_LAYOUTS[name].sites):
            site_table[i, s] = site_lookup[site]

    frame = pd.DataFrame(
        {
            "patient_id": pd.Series(
                pd.Categorical.from_codes(merged["pat"], categories=patient_names)
            ).astype("string")
            if n_pat
            else pd.Series([], dtype="string"),
            "nerve": _string_column(nerve_list, merged["nerve"]),
            "side": _string_column(["L", "R"], merged["side"]),
            "site": _string_column(site_names, site_table[merged["nerve"], merged["site"]]),
            "site_order": merged["site"].astype(np.int64),
            "response": _string_column(["present", "absent"], merged["absent"].astype(np.int8)),
            "latency_ms": merged["latency_ms"],
            "amplitude_mv": merged["amplitude_mv"],
            "area_mvms": merged["area_mvms"],
            "duration_ms": merged["duration_ms"],
            "distance_mm": merged["distance_mm"],
            "muscle": _string_column(muscle_names, merged["nerve"]),
            "f_latency_ms": merged["f_latency_ms"],
            "f_persistence_pct": merged["f_persistence_pct"],
            "distal_duration_ms": merged["distal_duration_ms"],
            "lff_hz": merged["lff_hz"],
        }
    )
    if truth:
        frame["pattern"] = _string_column(list(_PATTERNS), merged["pattern"])
    return frame

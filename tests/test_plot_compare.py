"""Plots of a criteria comparison (needs the ``plot`` extra)."""

from __future__ import annotations

import pandas as pd
import pytest

import ncs
from conftest import FIXTURES, SEED_FIXTURES

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from ncs.plot import plot_agreement, plot_decision_regions  # noqa: E402


@pytest.fixture(scope="module")
def comparison():
    sites = pd.concat(
        [ncs.read_sites(f) for f in [FIXTURES / name for name in SEED_FIXTURES]], ignore_index=True
    )
    return ncs.compare(sites, cv={})


def test_agreement_matrix(comparison):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    out = plot_agreement(comparison, level="segment", ax=ax)
    assert out is ax
    image = ax.get_images()[0].get_array()
    kappa = comparison.agreement.query("level == 'segment' and categories == 'all'")["kappa"]
    assert image[0, 1] == pytest.approx(kappa.iloc[0])
    assert image[0, 0] == 1.0
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith(f"{kappa.iloc[0]:.2f}") for t in texts)
    plt.close(fig)


def test_decision_regions(comparison):
    import matplotlib.pyplot as plt

    ax = plot_decision_regions(comparison)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Katz 2002: block" in labels and "Bouche 1995: block" in labels
    n_discordant_drawn = int(
        (
            comparison.segments["discordant"]
            & comparison.segments["amp_drop_pct"].notna()
            & comparison.segments["dur_change_pct"].notna()
        ).sum()
    )
    assert f"schemes differ ({n_discordant_drawn})" in labels
    plt.close(ax.figure)


def test_accepts_analysis():
    import matplotlib.pyplot as plt

    a = ncs.analyze(ncs.read_sites(FIXTURES / "mmn_forearm_block.csv"))
    ax = plot_agreement(a)
    assert ax.get_title().startswith("Cohen's kappa")
    plt.close(ax.figure)
    with pytest.raises(TypeError):
        plot_agreement(object())

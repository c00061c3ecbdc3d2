"""The RFM segment map (pinned cell by cell), its config validation, and the lifecycle rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from analytics.config import SEGMENTS, AnalyticsConfig
from analytics.habits import _segments, lifecycle_stages

# The default map: rows R = 5..1, columns FM = 1..5 (FM = mean of F and M, rounded half up).
DEFAULT_GRID = """
R5 | New customers  | Potential loyalists | Potential loyalists | Champions       | Champions
R4 | Promising      | Potential loyalists | Potential loyalists | Loyal           | Champions
R3 | About to sleep | About to sleep      | Need attention      | Loyal           | Loyal
R2 | Hibernating    | Hibernating         | At risk             | At risk         | Can't lose them
R1 | Lost           | Lost                | At risk             | Can't lose them | Can't lose them
"""


def _pinned() -> dict[tuple[int, int], str]:
    cells = {}
    for line in DEFAULT_GRID.strip().splitlines():
        head, *names = (part.strip() for part in line.split("|"))
        for fm, name in enumerate(names, start=1):
            cells[(int(head[1]), fm)] = name
    return cells


def test_default_segment_map_cell_by_cell() -> None:
    config = AnalyticsConfig()
    pinned = _pinned()
    assert len(pinned) == 25
    for (r, fm), name in pinned.items():
        assert config.segment_for(r, fm) == name, (r, fm)
    assert set(pinned.values()) == set(SEGMENTS)  # all eleven common segments are reachable
    assert config.segment_names() == list(SEGMENTS)
    assert set(config.actions) == set(SEGMENTS)


def test_segments_use_fm_rounded_half_up() -> None:
    frame = pd.DataFrame(
        {
            "r_score": pd.array([5, 5, 1, 3, None], dtype="Int64"),
            "f_score": pd.array([1, 4, 5, 3, None], dtype="Int64"),
            "m_score": pd.array([2, 3, 4, 3, None], dtype="Int64"),
        }
    )
    names = list(_segments(frame, AnalyticsConfig()))
    # FM: (1+2)/2 -> 2, (4+3)/2 -> 4, (5+4)/2 -> 5, 3.
    assert names == ["Potential loyalists", "Champions", "Can't lose them", "Need attention", None]


def test_segment_map_is_configurable_and_validated() -> None:
    grid = {r: [f"S{r}{fm}" for fm in range(1, 6)] for r in range(1, 6)}
    config = AnalyticsConfig.model_validate({"segments": grid, "actions": {"S55": "Call them"}})
    assert config.segment_for(5, 5) == "S55"
    with pytest.raises(ValidationError, match="R scores"):
        AnalyticsConfig.model_validate({"segments": {1: ["a"] * 5}})
    with pytest.raises(ValidationError, match="5 non-empty"):
        AnalyticsConfig.model_validate({"segments": {**grid, 3: ["a"] * 4}})
    with pytest.raises(ValidationError, match="not in the segment map"):
        AnalyticsConfig.model_validate({"actions": {"Nobody": "?"}})
    with pytest.raises(ValidationError):
        AnalyticsConfig.model_validate({"lifecycle": {"new_days": 400, "lost_days": 365}})
    with pytest.raises(ValidationError):
        AnalyticsConfig.model_validate({"unknown": 1})


def _customer(**values: float) -> dict[str, float]:
    row = {
        "n_orders": 5,
        "tenure_days": 700,
        "recency_days": 20,
        "p_alive": 0.9,
        "frequency": 4,
        "mean_days_between_orders": 60,
        "n_recent": 2,
    }
    row.update(values)
    return row


def test_lifecycle_rules_and_thresholds() -> None:
    rows = {
        "prospect": _customer(n_orders=0, tenure_days=np.nan, recency_days=np.nan, frequency=0),
        "new": _customer(n_orders=1, tenure_days=30, recency_days=29, frequency=0, n_recent=1),
        "lost_by_recency": _customer(recency_days=400, n_recent=0),
        "lost_by_p_alive": _customer(p_alive=0.1, recency_days=45),
        "recent_buyer": _customer(p_alive=0.1, recency_days=10, n_orders=12, n_recent=1),
        "one_timer_old": _customer(n_orders=1, frequency=0, recency_days=200, n_recent=0),
        "declining_rate": _customer(n_orders=12, n_recent=1, recency_days=45),
        "declining_overdue": _customer(recency_days=150, mean_days_between_orders=60),
        "active": _customer(),
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    stages = lifecycle_stages(frame, AnalyticsConfig())
    assert stages["prospect"] == "prospect"
    assert stages["new"] == "new"
    assert stages["lost_by_recency"] == "lost"
    assert stages["lost_by_p_alive"] == "lost"
    # bought 10 days ago: neither lost (P(alive) 0.1) nor declining (1 order in the window)
    assert stages["recent_buyer"] == "active"
    assert stages["one_timer_old"] == "active"  # P(alive) is 1 without repeats; not lost yet
    assert stages["declining_rate"] == "declining"  # 11 orders in 520 days, 1 in the last 180
    assert stages["declining_overdue"] == "declining"  # 150 days > 2 x 60-day rhythm
    assert stages["active"] == "active"
    strict = AnalyticsConfig.model_validate({"lifecycle": {"lost_days": 100}})
    assert lifecycle_stages(frame, strict)["declining_overdue"] == "lost"
    # Without a fitted model (p_alive NaN) the recency rules still apply.
    frame["p_alive"] = np.nan
    assert lifecycle_stages(frame, AnalyticsConfig())["lost_by_p_alive"] == "active"

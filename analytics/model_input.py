"""The models' input, one entry per buyer (frequency, recency, age, monetary), and how it is
derived from per-buyer aggregates: numpy only, so the warehouse can compute it (``analytics.
summary``) while the fitting code (scipy, in ``analytics.btyd``) is still loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

    from analytics.btyd import FloatArray

TimeUnit = Literal["days", "weeks"]
IntArray = npt.NDArray[np.int64]

DAYS_PER_UNIT: dict[str, float] = {"days": 1.0, "weeks": 7.0}


def day_numbers(keys: Any) -> IntArray:
    """``yyyymmdd`` date keys → days since 1970-01-01 (proleptic Gregorian, like ``date``)."""
    keys = np.asarray(keys, dtype=np.int64)
    years = (keys // 10_000 - 1970).astype("datetime64[Y]")
    months = years.astype("datetime64[M]") + (keys // 100 % 100 - 1)
    days = months.astype("datetime64[D]") + (keys % 100 - 1)
    return np.asarray(days, dtype=np.int64)


@dataclass(frozen=True)
class ModelInput:
    """The models' input, one entry per buyer: ``frequency``, ``recency`` and ``age`` (``T``) in
    the time unit, ``monetary``; ``customer_key`` says whose."""

    customer_key: IntArray
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    monetary: FloatArray

    def __len__(self) -> int:
        return len(self.frequency)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ModelInput:
        """From a frame with ``frequency, recency, T, monetary`` columns, indexed by customer
        (what :func:`rfm_summary` and ``analytics.habits`` give)."""
        integer_keys = frame.index.dtype.kind in "iu"
        return cls(
            customer_key=frame.index.to_numpy(np.int64) if integer_keys else np.arange(len(frame)),
            frequency=frame["frequency"].to_numpy(np.float64),
            recency=frame["recency"].to_numpy(np.float64),
            age=frame["T"].to_numpy(np.float64),
            monetary=frame["monetary"].to_numpy(np.float64),
        )

    def where(self, mask: Any) -> ModelInput:
        """The buyers where ``mask`` is true."""
        return ModelInput(
            self.customer_key[mask],
            self.frequency[mask],
            self.recency[mask],
            self.age[mask],
            self.monetary[mask],
        )


def derive(
    customer_key: Any,
    n_days: Any,
    first_day: Any,
    last_day: Any,
    total_amount: Any,
    first_amount: Any,
    n_priced_days: Any,
    as_of_day: int,
    time_unit: TimeUnit,
) -> ModelInput:
    """frequency, recency, T and monetary from the aggregates (day numbers, amounts as floats;
    a missing amount counts as 0). ``monetary`` is the mean over the repeat days *with an
    amount* (``n_priced_days``, less the first day when it has one): a day whose orders lack an
    exchange rate is a purchase but not a spend. ``analytics.habits`` derives its columns by the
    same formulas."""
    unit_days = DAYS_PER_UNIT[time_unit]
    frequency = np.clip(np.asarray(n_days, dtype=np.int64) - 1, 0, None).astype(np.float64)
    total = np.nan_to_num(np.asarray(total_amount, dtype=np.float64), nan=0.0)
    first_raw = np.asarray(first_amount, dtype=np.float64)
    first_total = np.nan_to_num(first_raw, nan=0.0)
    priced_repeat = np.clip(
        np.asarray(n_priced_days, dtype=np.float64) - (~np.isnan(first_raw)).astype(np.float64),
        0,
        None,
    )
    first = np.asarray(first_day, dtype=np.int64)
    return ModelInput(
        customer_key=np.asarray(customer_key, dtype=np.int64),
        frequency=frequency,
        recency=(np.asarray(last_day, dtype=np.int64) - first).astype(np.float64) / unit_days,
        age=(as_of_day - first).astype(np.float64) / unit_days,
        monetary=np.where(
            (frequency > 0) & (priced_repeat > 0),
            (total - first_total) / np.clip(priced_repeat, 1, None),
            0.0,
        ),
    )

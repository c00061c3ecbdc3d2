"""The ``analytics:`` section: RFM segment map, lifecycle thresholds, CLV options, actions.

Everything has a default, so an empty section is valid. The segment map is data: a 5 x 5 grid
indexed by the recency score (R, 1-5) and the combined frequency-monetary score
(FM = mean of F and M rounded half up, 1-5), after the common RFM segmentation (Champions,
Loyal, Potential loyalists, New customers, Promising, Need attention, About to sleep, At risk,
Can't lose them, Hibernating, Lost).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

CHAMPIONS = "Champions"
LOYAL = "Loyal"
POTENTIAL = "Potential loyalists"
NEW = "New customers"
PROMISING = "Promising"
NEED_ATTENTION = "Need attention"
ABOUT_TO_SLEEP = "About to sleep"
AT_RISK = "At risk"
CANT_LOSE = "Can't lose them"
HIBERNATING = "Hibernating"
LOST = "Lost"

SEGMENTS = (
    CHAMPIONS,
    LOYAL,
    POTENTIAL,
    NEW,
    PROMISING,
    NEED_ATTENTION,
    ABOUT_TO_SLEEP,
    AT_RISK,
    CANT_LOSE,
    HIBERNATING,
    LOST,
)

LIFECYCLE_STAGES = ("prospect", "new", "active", "declining", "lost")


def default_segment_grid() -> dict[int, list[str]]:
    """R score → the segment for FM = 1, 2, 3, 4, 5."""
    return {
        5: [NEW, POTENTIAL, POTENTIAL, CHAMPIONS, CHAMPIONS],
        4: [PROMISING, POTENTIAL, POTENTIAL, LOYAL, CHAMPIONS],
        3: [ABOUT_TO_SLEEP, ABOUT_TO_SLEEP, NEED_ATTENTION, LOYAL, LOYAL],
        2: [HIBERNATING, HIBERNATING, AT_RISK, AT_RISK, CANT_LOSE],
        1: [LOST, LOST, AT_RISK, CANT_LOSE, CANT_LOSE],
    }


def default_actions() -> dict[str, str]:
    """Suggested commercial action per segment (shown in the report)."""
    return {
        CHAMPIONS: "Reward them: early access to new screens and systems, referral programme, "
        "ask for reviews. No discounts needed.",
        LOYAL: "Upsell higher-end models and service contracts; invite to product previews.",
        POTENTIAL: "Offer a loyalty programme or a service plan; recommend complementary "
        "accessories.",
        NEW: "Onboard well: installation follow-up call, accessories and training offer.",
        PROMISING: "Build the relationship: a personal call from the sales rep, free trial of "
        "a service.",
        NEED_ATTENTION: "Limited-time offer based on past purchases; reactivate with news.",
        ABOUT_TO_SLEEP: "Share useful content and a targeted offer before they drift away.",
        AT_RISK: "Personal follow-up call (relancer): find out what changed, propose a "
        "renewal or upgrade.",
        CANT_LOSE: "Account manager visit: win them back with tailored terms; never let a "
        "competitor take them.",
        HIBERNATING: "Low-cost reactivation campaign; otherwise keep in the newsletter only.",
        LOST: "Win-back campaign once; if no answer, stop spending on them.",
    }


class LifecycleConfig(BaseModel):
    """Thresholds of the lifecycle stages (prospect → new → active → declining → lost)."""

    model_config = ConfigDict(extra="forbid")

    new_days: int = Field(
        default=90, ge=1, description="First order at most this many days ago: new."
    )
    lost_days: int = Field(
        default=365, ge=1, description="No order for more than this many days: lost."
    )
    lost_p_alive: float = Field(
        default=0.2, ge=0, le=1, description="P(alive) below this (repeat buyers): lost."
    )
    declining_window_days: int = Field(
        default=180,
        ge=7,
        description="Recent window whose order rate is compared with the history.",
    )
    declining_rate_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Recent rate below this fraction of the past rate: declining.",
    )
    declining_min_history_days: int = Field(
        default=180, ge=1, description="History needed before the window to judge a decline."
    )
    overdue_factor: float = Field(
        default=2.0, gt=1, description="No order for this many mean inter-order gaps: declining."
    )
    recent_buyer_days: int = Field(
        default=30,
        ge=0,
        description="An order at most this many days ago: never declining nor lost, whatever "
        "the rates and P(alive) say (0 = no such rule).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleConfig:
        if self.new_days >= self.lost_days:
            raise ValueError("new_days must be smaller than lost_days")
        return self


class ClvConfig(BaseModel):
    """Repeat-purchase model (BG/NBD, MBG/NBD or Pareto/NBD) + Gamma-Gamma options."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["auto", "bgnbd", "mbgnbd", "pareto_nbd"] = Field(
        default="auto",
        description="Repeat-purchase model; auto = lowest error on a holdout of the shop's orders.",
    )
    holdout_days: int | None = Field(
        default=None,
        ge=7,
        description="Holdout length for the model check (default: a third of the history, "
        "28-365 days).",
    )
    time_unit: Literal["days", "weeks"] = "weeks"
    penalizer: float = Field(default=0.0, ge=0, description="L2 penalty on the model parameters.")
    horizon_months: int = Field(
        default=12, ge=1, le=120, description="CLV horizon (clv_12m column)."
    )
    annual_discount_rate: float = Field(default=0.10, ge=0, lt=1)
    margin: float = Field(default=1.0, gt=0, le=1, description="Share of revenue counted as value.")
    expected_orders_days: int = Field(
        default=90, ge=1, description="Horizon of expected_orders_90d."
    )
    min_customers: int = Field(
        default=20,
        ge=2,
        description="Fewer buyers than this: no model is fitted (CLV columns empty).",
    )


class ProspectConfig(BaseModel):
    """The prospect score (analytics/prospects.py): horizon, history days, minimum outcomes."""

    model_config = ConfigDict(extra="forbid")

    horizon_days: int = Field(
        default=180, ge=14, le=730, description="Score = P(first order within this many days)."
    )
    snapshots: int = Field(
        default=6, ge=1, le=36, description="Past days whose prospects the model is fitted on."
    )
    snapshot_step_days: int = Field(default=30, ge=7, description="Days between those days.")
    min_outcomes: int = Field(
        default=20,
        ge=5,
        description="Fewer buyers (or non-buyers) than this among the training examples: no score.",
    )
    min_holdout_outcomes: int = Field(
        default=5, ge=2, description="Fewer buyers (or non-buyers) in the holdout: no score."
    )
    min_category_count: int = Field(
        default=10,
        ge=1,
        description="A lead source or industry seen fewer times is not an input of its own.",
    )
    penalizer: float = Field(default=1.0, ge=0, description="L2 penalty on the weights.")


class SqlRatesConfig(BaseModel):
    """Rates from a SQL query returning the columns ``date``, ``currency``, ``rate``."""

    model_config = ConfigDict(extra="forbid")

    url: SecretStr = Field(description="SQLAlchemy URL of the database (may hold a password).")
    query: str = Field(min_length=1, description="SELECT returning date, currency, rate.")


class RatesConfig(BaseModel):
    """Where the exchange rates come from: exactly one of ``csv`` or ``sql``."""

    model_config = ConfigDict(extra="forbid")

    csv: Path | None = Field(
        default=None, description="CSV file with the columns date, currency, rate."
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    sql: SqlRatesConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RatesConfig:
        if (self.csv is None) == (self.sql is None):
            raise ValueError("give exactly one of csv or sql")
        return self


class CurrencyConfig(BaseModel):
    """The reporting currency every amount is converted to, and the rates to convert with.

    Rates are units of a currency per one unit of the reporting currency (the ECB convention).
    An order is converted with the latest rate of its currency dated on or before its day and at
    most ``max_rate_age_days`` older; without one it is flagged and left out of the money
    figures. A single-currency shop needs none of this: its currency is the reporting one.
    """

    model_config = ConfigDict(extra="forbid")

    reporting: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="ISO 4217 code (default: the orders' currency when they all have the same "
        "one, else SUGAR_BRIDGE_DEFAULT_CURRENCY).",
    )
    rates: RatesConfig | None = None
    max_rate_age_days: int = Field(
        default=7,
        ge=0,
        le=366,
        description="How many days before an order its currency's latest rate may be dated.",
    )

    @field_validator("reporting")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        from etl.currencies import iso_currency  # here: importing the config stays cheap

        return iso_currency(value)

    @model_validator(mode="after")
    def _rates_need_a_reporting_currency(self) -> CurrencyConfig:
        if self.rates is not None and self.reporting is None:
            raise ValueError("rates are given per unit of the reporting currency: set reporting")
        return self


class AnalyticsConfig(BaseModel):
    """The ``analytics:`` section: RFM segment map, lifecycle thresholds, CLV options."""

    model_config = ConfigDict(extra="forbid")

    segments: dict[int, list[str]] = Field(
        default_factory=default_segment_grid,
        description="R score (1-5) → segment names for FM score 1..5.",
    )
    actions: dict[str, str] = Field(
        default_factory=default_actions, description="Suggested commercial action per segment."
    )
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    clv: ClvConfig = Field(default_factory=ClvConfig)
    prospects: ProspectConfig = Field(default_factory=ProspectConfig)
    currency: CurrencyConfig = Field(default_factory=CurrencyConfig)
    keep_runs: int = Field(
        default=0, ge=0, description="Per-customer history kept for this many runs (0 = all)."
    )

    @field_validator("segments")
    @classmethod
    def _grid(cls, grid: dict[int, list[str]]) -> dict[int, list[str]]:
        if sorted(grid) != [1, 2, 3, 4, 5]:
            raise ValueError("needs exactly the R scores 1, 2, 3, 4 and 5 as keys")
        for r, row in grid.items():
            if len(row) != 5 or not all(name.strip() for name in row):
                raise ValueError(f"R = {r}: needs 5 non-empty segment names (FM = 1..5)")
        return grid

    @model_validator(mode="after")
    def _known_actions(self) -> AnalyticsConfig:
        names = self.segment_names()
        unknown = sorted(set(self.actions) - set(names))
        if unknown:
            raise ValueError(f"actions for segments not in the segment map: {unknown}")
        # Texts given in the config replace the defaults one by one.
        defaults = {k: v for k, v in default_actions().items() if k in names}
        self.actions = {**defaults, **self.actions}
        return self

    def segment_names(self) -> list[str]:
        """Segment names, each once: the default names in their usual order, then any others."""
        seen: dict[str, None] = {}
        for r in sorted(self.segments, reverse=True):
            for name in reversed(self.segments[r]):
                seen.setdefault(name, None)
        known = [name for name in SEGMENTS if name in seen]
        return known + [name for name in seen if name not in SEGMENTS]

    def segment_for(self, r_score: int, fm_score: int) -> str:
        """The named segment of one cell of the grid."""
        return self.segments[r_score][fm_score - 1]

"""The canonical orders file (design.md) as data: its columns, and the batch a source hands out.

Plain constants, no imports: the config models, the sources, the loader, the demo's generator and
the benchmarks all name the canonical columns from here.
"""

from __future__ import annotations

#: Every column of the canonical orders file, in the order the generator writes them, with the
#: optional extras the ETL's dimensions take (customer city/country, the customer's type —
#: ``B2B`` a company, ``B2C`` a person, pushed to Sugar's Contacts —, product brand) and
#: ``line_amount`` (the line's amount when the file has it; else quantity x price - discount).
CANONICAL_COLUMNS: tuple[str, ...] = (
    "order_id",
    "line_no",
    "ordered_at",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_city",
    "customer_country",
    "customer_type",
    "sku",
    "product_name",
    "category",
    "brand",
    "quantity",
    "unit_price",
    "discount",
    "line_amount",
    "currency",
    "payment_method",
    "channel",
    "status",
    "invoiced_at",
    "due_at",
    "paid_at",
)
#: The columns a file must have (mapped or by name).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "order_id",
    "ordered_at",
    "customer_id",
    "sku",
    "quantity",
    "unit_price",
)
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c for c in CANONICAL_COLUMNS if c not in REQUIRED_COLUMNS)

#: Order lines per chunk a source hands to the loader, one load transaction each (whole orders
#: only, so a chunk may be a little larger); ``sources.batch_lines`` in the config.
DEFAULT_BATCH_LINES = 50_000

"""The demo's CRM records: deterministic, tied to the customers, with the planted signal."""

from __future__ import annotations

from datetime import date

from sugar_bridge.demo.crm import GOOD_SOURCES, POOR_SOURCES, CrmCustomer, crm_records

AS_OF = date(2026, 11, 23)


def _customers(n: int = 300) -> list[CrmCustomer]:
    return [
        CrmCustomer(
            customer_id=f"C{i}",
            name=f"Ada Person{i}" if i % 5 else f"Firm {i} SARL",
            email=f"c{i}@example.test",
            is_business=i % 5 == 0,
            account_id=f"acc-{i}" if i % 7 else None,
            first_order=date(2025, 1 + i % 12, 1 + i % 28) if i % 3 else None,
            archetype="loyal" if i % 2 else "declining",
        )
        for i in range(n)
    ]


def test_the_same_options_give_the_same_records() -> None:
    a = crm_records(_customers(), seed=42, as_of=AS_OF)
    b = crm_records(_customers(), seed=42, as_of=AS_OF)
    assert a.records == b.records
    assert a.links == b.links
    assert crm_records(_customers(), seed=43, as_of=AS_OF).records != a.records


def test_records_point_at_known_accounts_and_leads_carry_the_signal() -> None:
    out = crm_records(_customers(), seed=42, as_of=AS_OF)
    accounts = {f"acc-{i}" for i in range(300) if i % 7}
    assert {c["account_id"] for c in out.records["Cases"]} <= accounts
    assert {m for m, _, _, _ in out.links} == {"Accounts"}
    converted = [lead for lead in out.records["Leads"] if lead["converted"]]
    assert all(lead["account_id"] in accounts for lead in converted)
    assert all(lead["date_entered"] <= AS_OF.isoformat() + " 23:59:59" for lead in converted)

    def rate(sources: tuple[str, ...]) -> float:
        leads = [lead for lead in out.records["Leads"] if lead["lead_source"] in sources]
        return sum(lead["converted"] for lead in leads) / len(leads)

    assert rate(GOOD_SOURCES) > rate(POOR_SOURCES) + 0.2
    ids = [r["id"] for rows in out.records.values() for r in rows]
    assert len(ids) == len(set(ids))

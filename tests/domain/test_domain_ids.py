"""Order ids: attributable to their team, unique, and sorted the way they were made."""

from __future__ import annotations

from qtc.domain.ids import ORDER_ID_MAX_LEN, new_order_id, team_of_order_id


def test_ids_made_in_one_millisecond_sort_in_the_order_they_were_made() -> None:
    made = [new_order_id("alpha", 1_764_000_000_000) for _ in range(1000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    later = new_order_id("alpha", 1_764_000_000_001)
    assert later > made[-1]


def test_an_id_names_its_team_and_fits_a_client_order_id() -> None:
    longest = new_order_id("t" * 21)
    assert len(longest) <= ORDER_ID_MAX_LEN
    assert team_of_order_id(longest) == "t" * 21
    assert team_of_order_id(new_order_id("team_7")) == "team_7"
    assert team_of_order_id("placed-by-hand") is None

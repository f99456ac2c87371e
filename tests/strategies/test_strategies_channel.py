"""The worker channel is untrusted input: forged bytes from a strategy never stop the host.

Strategies write straight into their socket (the Python checks off, so nothing stops them
before the host): random bytes, huge or torn frames, deep nesting, out-of-turn replies. Each
becomes that team's `signal` error for the minute (or, for a well-formed reply, is read like any
other); the host goes on, the good team trades, and the forger's next minute runs again.
"""

from __future__ import annotations

from decimal import Decimal

from tests.strategies.test_strategies_sandbox import minute

MODES = [
    "raw_random", "framed_random", "huge_header", "open_brackets", "deep_valid",
    "deep_unparsable", "not_object", "wrong_seq", "many_signals", "long_error", "bad_utf8",
    "half_frame", "huge_number", "nan_output",
]  # fmt: skip
SEEDS = 12  # raw and framed random bytes from this many seeds


async def test_forged_replies_are_that_teams_error_and_the_host_goes_on(
    make_pool, team, view
) -> None:
    specs = [team(m, "hostile/channel", mode=m) for m in MODES]
    for kind in ("raw_random", "framed_random"):
        specs += [team(f"{kind}_{n}", "hostile/channel", mode=kind, seed=n) for n in range(SEEDS)]
    specs.append(team("steady", "good/steady"))
    forgers = [s.team_id for s in specs if s.team_id != "steady"]
    pool = await make_pool(specs, timeout=5.0, python_checks=False)
    assert set((await pool.start()).values()) == {None}

    for round_ in (1, 2, 3):  # the killed workers are restarted and forge again
        results = await minute(pool, view, *forgers, "steady")
        assert results["steady"].error is None
        assert [s["quantity"] for s in results["steady"].signals] == [1]
        for team_id in forgers:
            result = results[team_id]
            if team_id == "nan_output":
                # well-formed: read as the output; the worker's own reply then arrives out of
                # turn next minute, and that worker is replaced
                if result.error is None:
                    assert result.signals[0]["symbol"] == "AAA"
                else:
                    assert "out-of-turn" in result.error.message
                continue
            assert result.error is not None, f"{team_id} round {round_}: no error"
            assert result.error.phase == "signal"
            assert result.signals == []
            assert len(result.error.message) <= 1200, team_id
        assert "nested too deeply" in results["open_brackets"].error.message
        assert "out-of-turn" in results["wrong_seq"].error.message
        assert "200 items (max" not in results["many_signals"].error.message
        assert "max 200" in results["many_signals"].error.message
        assert "byte reply" in results["huge_header"].error.message
    assert pool.restarts("open_brackets") >= 2
    assert Decimal(1) == results["steady"].signals[0]["quantity"]

"""`/healthz`, `/readyz` and `/metrics` of the API: no key needed; metrics read the live tracker
and the broker's stream when scraped."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from qtc.metrics.collector import RunState, RunStateCollector
from qtc.metrics.run_metrics import RunMetrics

if TYPE_CHECKING:
    from conftest import Stack


def test_probes_need_no_key_and_metrics_off_is_a_clear_404(stack: Stack) -> None:
    with stack.client() as api:
        assert api.get("/healthz").json() == {"status": "ok"}
        ready = api.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "failed": [], "checks": {}}
        off = api.get("/metrics")
        assert off.status_code == 404
        assert off.json() == {"detail": "metrics are off (metrics_enabled=false)"}


def scrape(stack: Stack) -> dict[str, float]:
    with stack.client() as api:
        response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        sample.name + str(sorted(sample.labels.values())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_read_orders_subscribers_and_stream_when_scraped(
    make_stack: Callable[..., Stack],
) -> None:
    registry = CollectorRegistry(auto_describe=False)
    recorder = RunMetrics(registry, ["alpha", "beta"])
    stack = make_stack(metrics=registry)
    tracker = stack.tracker
    registry.register(
        RunStateCollector(
            RunState(
                orders_by_status=tracker.orders_by_status,
                open_orders=tracker.open_order_count,
                sse_subscribers=tracker.subscriber_count,
                stream=stack.broker,
                data_dir=stack.data_dir,
            ),
            recorder,
        )
    )
    before = scrape(stack)
    assert before["qtc_open_orders[]"] == 0 and before["qtc_orders['new']"] == 0
    assert before["qtc_strategy_timeouts_total['beta']"] == 0
    assert before["qtc_broker_requests_total['429']"] == 0
    assert before["qtc_stream_connected[]"] == 1
    assert before["qtc_data_dir_free_bytes[]"] > 0

    stack.place("alpha", "AAPL", "buy", "5", "90")
    stack.place("beta", "AAPL", "buy", "5", "80")
    stack.broker.pause_stream()
    after = scrape(stack)
    assert after["qtc_open_orders[]"] == 2 and after["qtc_orders['new']"] == 2
    assert after["qtc_orders['filled']"] == 0
    assert after["qtc_stream_connected[]"] == 0

    stack.broker.resume_stream()
    resumed = scrape(stack)
    assert resumed["qtc_stream_connected[]"] == 1
    assert resumed["qtc_stream_reconnects_total[]"] == 1

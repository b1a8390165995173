"""This instance's metrics in Prometheus's text format (`GET /metrics`): `HubMetrics` is the hub's
observer (`secretgpt.hub.HubObserver`), over its own registry. It imports the records and
prometheus_client, nothing else of the app; the start-up (`interfaces/runtime.py`) builds it and
hands the hub and the `/metrics` route their sides of it."""

from .hub_metrics import HubMetrics, outcome_of

__all__ = ["HubMetrics", "outcome_of"]

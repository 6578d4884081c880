"""The application's Prometheus metrics, scraped at ``GET /metrics`` (README, "Metrics").

What the web process counts as it answers (:mod:`config.metrics.instruments`), what a scrape
reads from the database and the broker (:mod:`config.metrics.collector`), and the endpoint
with the request timing around every answer (:mod:`config.metrics.middleware`).
"""

"""Resilience building blocks the gateway composes: policies, deadline, breaker, bulkhead,
retry decisions and the transport-error seam. Private: configure them through the policies."""

"""The HTTP API's domain: agents, runs and their events, approvals and sessions, each testable
without AWS (every class takes its boto3 clients)."""

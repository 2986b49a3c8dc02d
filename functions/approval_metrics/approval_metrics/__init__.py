"""Counts human approvals from the approvals table's stream."""

"""Typed, thin services the agent calls: provider clients, sizing, generated artifacts,
the durable deployment pipeline, publishing, and the agent-facing tool functions.

Subpackages are imported by their full names; this package exports nothing itself."""

__all__: list[str] = []

"""Routing and stream lifecycle. Import from the submodules (router, stream, registry, events)."""

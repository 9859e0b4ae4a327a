"""The one place a process wires its adapters (runtime.py), and its providers (providers.py)."""

from shared.bootstrap.runtime import Adapters, Runtime, TopicNotProvisioned, bootstrap, find_topic

__all__ = ["Adapters", "Runtime", "TopicNotProvisioned", "bootstrap", "find_topic"]

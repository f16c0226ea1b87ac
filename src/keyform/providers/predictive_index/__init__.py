"""The `predictive-index` provider: kinds.py, steps.py (the manual checklist), verify.py, provider.py."""

from keyform.providers.predictive_index.provider import PredictiveIndexProvider

__all__ = ["PredictiveIndexProvider"]

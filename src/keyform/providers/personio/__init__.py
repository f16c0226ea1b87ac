"""The `personio` provider: kinds.py, steps.py (the manual checklist), verify.py, provider.py."""

from keyform.providers.personio.provider import PersonioProvider

__all__ = ["PersonioProvider"]

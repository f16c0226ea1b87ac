"""Changes and risks now live in `keyform.contract`; this name stays for existing imports."""

from keyform.contract import NO_DETAILS, SYMBOLS, Action, Change, Risk, RiskCategory

__all__ = ["NO_DETAILS", "SYMBOLS", "Action", "Change", "Risk", "RiskCategory"]

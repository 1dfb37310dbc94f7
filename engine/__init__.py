"""kras-rules: an educational therapy-eligibility rules engine for KRAS-driven cancers.

Educational decision support only: not medical advice.
"""
__version__ = "0.1.0"

"""A seeded, realistic demo platform written into the real source schemas."""

from .platform import DemoConfig, Platform, generate

__all__ = ["DemoConfig", "Platform", "generate"]

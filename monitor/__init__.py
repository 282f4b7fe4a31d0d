"""monitor: Telegram + press monitoring pipeline (collect → normalize → match → dedup → store → alert)."""

__version__ = "0.1.0"

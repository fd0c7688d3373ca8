"""The dashboard (``python run.py dashboard``): a local web app on the database, for watching storms live and
reviewing them after. ``app`` builds and serves it, ``security`` guards it, ``pages`` and the other modules
are its pages; every page reads through ``scheduler.service`` and ``scheduler.store``."""

from .app import dashboard_url, make_app, serve

__all__ = ["dashboard_url", "make_app", "serve"]

"""Running the app under gunicorn (production) from ``connectivity serve``."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from connectivity.settings import Settings

#: time, worker pid, method, path without its query, status, bytes, milliseconds
ACCESS_LOG_FORMAT = '%(t)s pid=%(p)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, workers: int):
        self.settings, self.workers = settings, workers
        super().__init__()

    def load_config(self):
        self.cfg.set("bind", f"{self.settings.host}:{self.settings.port}")
        self.cfg.set("workers", self.workers)
        self.cfg.set("threads", 4)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("accesslog", "-")
        # no client address, query string, referrer or user agent: residents are not logged
        # (a query may carry a private status token), and neither are officers' secrets
        self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)
        self.cfg.set("graceful_timeout", 10)

    def load(self):
        from . import create_app

        return create_app(self.settings)


def run_gunicorn(settings: Settings, workers: int = 2) -> None:
    _Gunicorn(settings, workers).run()

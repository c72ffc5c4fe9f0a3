"""``kiemtin serve``: run the reviewer web app."""

from __future__ import annotations

from .options import Parents, count
from .store_access import open_store


def add_parser(subparsers, parents: Parents) -> None:
    sv = subparsers.add_parser("serve", parents=[parents.common], help="run the reviewer web app")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sv.add_argument("--port", type=count(1), default=8000, help="port (default: 8000)")


def server_config(app, host: str, port: int):
    """How uvicorn serves the app: no ``server`` banner (it tells an attacker what to try),
    forwarded addresses trusted only from a proxy on this machine."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, server_header=False, proxy_headers=True)


WEBHOOK_POLL_SECONDS = 5.0


def start_webhook_sender(sessions, stop, every: float = WEBHOOK_POLL_SECONDS):
    """A daemon thread posting due webhook events every ``every`` seconds until ``stop`` is
    set (None when no KIEMTIN_WEBHOOK_URL is set). Errors are logged, never fatal: the events
    stay in the outbox."""
    import logging
    import threading

    from ..store.webhooks import WebhookSettings, deliver_due

    settings = WebhookSettings.from_env()
    if settings.url is None:
        return None

    def run():
        while not stop.wait(every):
            try:
                deliver_due(sessions, settings)
            except Exception:
                logging.getLogger(__name__).exception("webhook delivery failed; will retry")

    thread = threading.Thread(target=run, name="kiemtin-webhooks", daemon=True)
    thread.start()
    return thread


def handle(args) -> int:
    import threading

    import uvicorn

    from ..web.app import WebSettings, create_app

    _, _, sessions = open_store()  # migrate before serving
    stop = threading.Event()
    start_webhook_sender(sessions, stop)
    app = create_app(WebSettings.from_env())
    try:
        uvicorn.Server(server_config(app, args.host, args.port)).run()
    finally:
        stop.set()
    return 0

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


def handle(args) -> int:
    import uvicorn

    from ..web.app import WebSettings, create_app

    open_store()  # migrate before serving
    uvicorn.Server(server_config(create_app(WebSettings.from_env()), args.host, args.port)).run()
    return 0

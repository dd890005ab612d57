"""`monitor web`: a read-only web page over the archive (search, stories and their versions side by
side, articles, raw captures, source health, relevant items per week by topic), rendered on the
server and usable without JavaScript.

`create_app` builds the ASGI application over an open store; `serve` checks that the settings are
safe to listen with and runs it under uvicorn. This package is the only one that imports Starlette
and uvicorn.
"""

from monitor.web.app import create_app
from monitor.web.serve import serve

__all__ = ["create_app", "serve"]

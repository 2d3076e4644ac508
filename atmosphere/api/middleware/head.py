"""``HEAD`` wherever ``GET`` works (monitors, ``curl -I``, link checkers use it).

FastAPI routes answer only the methods they declare, so a HEAD would get 405. This
middleware serves a HEAD as the GET it stands for and drops the body, keeping the
headers (``content-length`` included) the GET would have sent. Adding HEAD to every
route instead would list each operation twice on the OpenAPI page.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # a streamed body: say nothing until its end
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)

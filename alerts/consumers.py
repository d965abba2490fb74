"""The live websocket: authenticate, join the user's site groups, relay events.

Anything published to a site's group with ``type: "live.event"`` reaches every browser
of a user of that site; the consumer adds nothing and decides nothing.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cameras import roles

# Close codes in the 4000-4999 range are the application's own.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def site_group(site_id: int) -> str:
    return f"site-{site_id}"


@database_sync_to_async
def _allowed_site_ids(user) -> list[int] | None:
    if not user.has_perm(roles.WATCH):
        return None
    return list(roles.sites_for(user).values_list("id", flat=True))


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        site_ids = await _allowed_site_ids(user)
        if site_ids is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.site_groups = [site_group(site_id) for site_id in site_ids]
        for group in self.site_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "sites": site_ids})

    async def disconnect(self, code):
        for group in getattr(self, "site_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, message):
        await self.send_json(message["event"])

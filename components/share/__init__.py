"""Links out of the studio: share links (a read-only page for one finished result, reachable only by
an unguessable token) and the signed links through which a page opens its owner's job files
(``files``)."""

from components.share.page import Player, routes
from components.share.store import Share, SharedResult, ShareStore, is_token

__all__ = ["Player", "Share", "ShareStore", "SharedResult", "is_token", "routes"]

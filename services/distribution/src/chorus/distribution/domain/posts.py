"""What gets posted (pure): the commentary, the disclosure where the program
appends it, and the tracked link — never the raw URL — plus intent URLs."""

from __future__ import annotations

from urllib.parse import urlencode

from chorus.kit.networks import Network


def post_text(commentary: str, tracked_url: str, disclosure: str, auto_append: bool) -> str:
    text = commentary.strip()
    if auto_append and disclosure and disclosure.lower() not in text.lower():
        text = f"{text} {disclosure}".strip()
    return f"{text} {tracked_url}".strip()


def intent_url(network: Network, tracked_url: str, text: str) -> str:
    """The platform's own share dialog, prefilled with the tracked link."""
    match network:
        case Network.X:
            return "https://x.com/intent/tweet?" + urlencode({"text": text, "url": tracked_url})
        case Network.LINKEDIN:
            query = urlencode({"url": tracked_url})
            return "https://www.linkedin.com/sharing/share-offsite/?" + query
        case Network.FACEBOOK:
            return "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": tracked_url})
        case _:
            raise ValueError(f"no share intent for {network!r}")

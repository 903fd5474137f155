"""What gets posted (pure): the commentary, the disclosure where the program
appends it, and the tracked link — never the raw URL — plus intent URLs."""

from __future__ import annotations

from urllib.parse import urlencode


def post_text(commentary: str, tracked_url: str, disclosure: str, auto_append: bool) -> str:
    text = commentary.strip()
    if auto_append and disclosure and disclosure.lower() not in text.lower():
        text = f"{text} {disclosure}".strip()
    return f"{text} {tracked_url}".strip()


def intent_url(network: str, tracked_url: str, text: str) -> str:
    """The platform's own share dialog, prefilled with the tracked link."""
    if network == "x":
        return "https://x.com/intent/tweet?" + urlencode({"text": text, "url": tracked_url})
    if network == "linkedin":
        return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": tracked_url})
    if network == "facebook":
        return "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": tracked_url})
    raise ValueError(f"no share intent for {network!r}")

import pytest

from chorus.engagement.domain.clicks import counts_as_click, is_bot, visitor_hash

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("user_agent", "bot"),
    [
        (
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            True,
        ),
        ("Twitterbot/1.0", True),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", True),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", True),
        ("Slack-ImgProxy (+https://api.slack.com/robots)", True),
        ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", True),
        ("WhatsApp/2.23.20.0", True),
        ("TelegramBot (like TwitterBot)", True),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
        ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", True),
        ("curl/8.5.0", True),
        ("python-requests/2.32.3", True),
        ("", True),
        (CHROME, False),
        (SAFARI_IOS, False),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", False),
    ],
)
def test_bots_and_crawlers(user_agent: str, bot: bool) -> None:
    assert is_bot(user_agent) is bot


@pytest.mark.parametrize(
    ("method", "headers", "click"),
    [
        ("GET", {"user-agent": CHROME}, True),
        ("HEAD", {"user-agent": CHROME}, False),
        ("GET", {"user-agent": CHROME, "purpose": "prefetch"}, False),
        ("GET", {"user-agent": CHROME, "sec-purpose": "prefetch;prerender"}, False),
        ("GET", {"user-agent": CHROME, "x-moz": "prefetch"}, False),
        ("GET", {"user-agent": "Twitterbot/1.0"}, False),
    ],
)
def test_what_counts_as_a_click(method: str, headers: dict[str, str], click: bool) -> None:
    assert counts_as_click(method, headers) is click


def test_visitor_hash_hides_the_address_and_changes_with_the_salt() -> None:
    first = visitor_hash(b"salt-1", "203.0.113.7", CHROME)
    assert first == visitor_hash(b"salt-1", "203.0.113.7", CHROME)
    assert "203.0.113.7" not in first
    assert first != visitor_hash(b"salt-2", "203.0.113.7", CHROME)
    assert first != visitor_hash(b"salt-1", "203.0.113.8", CHROME)
    assert first != visitor_hash(b"salt-1", "203.0.113.7", SAFARI_IOS)

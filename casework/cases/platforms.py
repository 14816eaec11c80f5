"""The app stores' own help pages, for subscriptions Apple or Google bills (no letter can cancel those).

Each link was checked against a stored copy of public material on 2026-12-06; ``source`` says what showed the
address and the title. A page we could not confirm is left out rather than guessed: the steps then say in words
where the setting is.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECKED_ON = "2026-12-06"


@dataclass(frozen=True)
class Link:
    title: str
    url: str
    checked_on: str
    source: str


@dataclass(frozen=True)
class Platform:
    """What the consumer does at the platform: where to cancel, and where a refund is asked for."""

    name: str                 # "Apple", "Google Play"
    settings: str             # where the subscription setting is, in words
    cancel_steps: tuple[str, ...]
    cancel_page: Link | None  # None: no page we could confirm
    refund_steps: tuple[str, ...]
    refund_page: Link | None


PLATFORMS: dict[str, Platform] = {
    "apple_app_store": Platform(
        name="Apple",
        settings="your Apple subscription settings",
        cancel_steps=(
            "On your iPhone or iPad, open Settings and tap your name, then Subscriptions.",
            "Tap the subscription, then Cancel Subscription, and confirm.",
            "If there is no Cancel button, the subscription is already cancelled.",
        ),
        # Apple's "Cancel a subscription from Apple" page: its address appears in public code, but no stored copy
        # confirmed its title, so it is left out.
        cancel_page=None,
        refund_steps=(
            "Sign in to reportaproblem.apple.com with the Apple Account that pays for the subscription.",
            "Choose \"I'd like to\", then \"Request a refund\", give the reason and choose the subscription.",
        ),
        refund_page=Link(
            title="Request a refund for apps or content that you bought from Apple",
            url="https://support.apple.com/118223",
            checked_on=CHECKED_ON,
            source="stored copies of support.apple.com/en-md/118223 and support.apple.com/en-za/HT204084 (same "
                   "title; both send refund requests to reportaproblem.apple.com)",
        ),
    ),
    "google_play": Platform(
        name="Google Play",
        settings="your Google Play subscription settings",
        cancel_steps=(
            "On your Android phone or tablet, open the Google Play Store and check you are signed in to the "
            "Google Account that pays.",
            "Tap your profile picture, then Payments & subscriptions, then Subscriptions.",
            "Choose the subscription, tap Cancel subscription and follow the instructions.",
        ),
        cancel_page=Link(
            title="Cancel, pause, or change a subscription on Google Play",
            url="https://support.google.com/googleplay/answer/7018481",
            checked_on=CHECKED_ON,
            source="the address from public code linking Google Play's subscription help; the title from a stored "
                   "copy of that page's text",
        ),
        refund_steps=(
            "Ask Google Play for a refund from your order history, or follow Google Play's refund page.",
        ),
        refund_page=Link(
            title="Returns and refunds on Google Play",
            url="https://support.google.com/googleplay/answer/2479637",
            checked_on=CHECKED_ON,
            source="the address from public code linking Google Play's refund policy; the title from a stored copy "
                   "of that page's text",
        ),
    ),
}


def platform_for(billing_channel: str) -> Platform | None:
    """The platform that bills the subscription (None where the company bills it itself)."""
    return PLATFORMS.get(billing_channel)

"""The X publisher through Tweepy and real HTTP to the sandbox's X server (no mocks, no patching)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import tweepy
from PIL import Image as PILImage

from driving import DrivenClock
from scheduler.platforms.base import (
    Image, OutcomeUnknown, OutgoingPost, Published, Publisher, RateLimited, Rejected, ReplyTarget, RetryLater,
)
from scheduler.platforms.x.facts import CREDENTIAL_SETS as REQUIRED_CREDENTIALS
from scheduler.platforms.x.publisher import XTransportAdapter, create_publisher
from scheduler.sandbox.core import Faults, Sandbox
from scheduler.sandbox.x import XApp, XLimits

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
X_OPENAPI = CONFORMANCE / "x-openapi" / "openapi.json"
SNOWFLAKE = r"^[0-9]{15,19}$"


# --- fixtures and helpers -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def x_app() -> XApp:
    return XApp()


@pytest.fixture(scope="module")
def sandbox(x_app: XApp) -> Iterator[Sandbox]:
    with Sandbox([x_app], seed=1) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").faults = Faults()


def new_account() -> str:
    return "acct_" + uuid.uuid4().hex[:8]


def publisher_for(sandbox: Sandbox, account: str, *, timeout: float = 5.0, oauth2_from: XApp | None = None
                  ) -> Publisher:
    """OAuth 1.0a by default; an OAuth 2.0 user token when given the sandbox's XApp."""
    credentials = oauth2_from.oauth2_credentials(account) if oauth2_from else sandbox.credentials("x", account)
    # No second read after a settle miss (the sandbox has no timeline lag): keeps the tests fast.
    return create_publisher(credentials, base_url=sandbox.base_url("x"), timeout=timeout,
                            options={"settle_recheck_seconds": 0})


def post(text: str, **fields: Any) -> OutgoingPost:
    return OutgoingPost(key=uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex[:13], text=text, **fields)


def posts_of(sandbox: Sandbox, account: str) -> list:
    return [p for p in sandbox.posts("x") if p.account == account]


def jpeg_bytes(*, with_exif: bool = False, size: tuple[int, int] = (40, 30)) -> bytes:
    image = PILImage.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if with_exif:
        exif = PILImage.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        image.save(out, "JPEG", exif=exif.tobytes())
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (16, 16), (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


def image(data: bytes, alt: str = "a red square", mime: str = "image/jpeg") -> Image:
    return Image(data=data, mime_type=mime, alt=alt, width=40, height=30, filename="photo.jpg")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- publishing ---------------------------------------------------------------------------------------------
def test_required_credentials_name_both_auth_kinds() -> None:
    assert REQUIRED_CREDENTIALS == (("consumer_key", "consumer_secret", "access_token", "access_token_secret"),
                                    ("user_token",), ("client_id",))
    with pytest.raises(ValueError, match="missing access_token_secret"):
        create_publisher({"consumer_key": "k", "consumer_secret": "s", "access_token": "t"})


def test_text_post_with_oauth1(sandbox: Sandbox) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account)
    assert isinstance(publisher, Publisher)
    result = publisher.publish(post("Storm at 18:00 #FreeThePress"))

    assert result.platform_id == result.reply_ref
    assert result.url == f"https://x.com/{account}/status/{result.platform_id}"
    [accepted] = posts_of(sandbox, account)
    assert accepted.post_id == result.platform_id
    assert accepted.text == "Storm at 18:00 #FreeThePress"
    assert str.isdigit(result.platform_id) and 15 <= len(result.platform_id) <= 19


def test_text_post_with_oauth2_user_token(sandbox: Sandbox, x_app: XApp) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account, oauth2_from=x_app)
    result = publisher.publish(post("Posted with an OAuth 2.0 user token"))
    [accepted] = posts_of(sandbox, account)
    assert accepted.post_id == result.platform_id
    assert "OAuth 2.0" in repr(publisher) and "user_token" not in repr(publisher)


def test_images_with_alt_text(sandbox: Sandbox) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account)
    images = (image(jpeg_bytes(), alt="A crowd holding a banner"),
              image(png_bytes(), alt="Map of the march route", mime="image/png"))
    result = publisher.publish(post("Two pictures", images=images))

    [accepted] = posts_of(sandbox, account)
    assert accepted.post_id == result.platform_id
    assert [m.alt for m in accepted.media] == ["A crowd holding a banner", "Map of the march route"]
    assert [m.mime_type for m in accepted.media] == ["image/jpeg", "image/png"]
    assert [m.has_exif for m in accepted.media] == [False, False]


def test_sandbox_sees_exif_left_in_an_image(sandbox: Sandbox) -> None:
    account = new_account()
    publisher_for(sandbox, account).publish(post("EXIF check", images=(image(jpeg_bytes(with_exif=True)),)))
    [accepted] = posts_of(sandbox, account)
    assert accepted.media[0].has_exif is True


def test_thread_reply(sandbox: Sandbox) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account)
    first = publisher.publish(post("1/2 Why we march"))
    second = publisher.publish(post("2/2 Join us", reply_to=ReplyTarget(parent=first.reply_ref, root=first.reply_ref)))

    root, reply = posts_of(sandbox, account)
    assert reply.post_id == second.platform_id
    assert reply.reply_to == first.platform_id and root.reply_to is None


def test_publish_from_several_threads_on_one_publisher(sandbox: Sandbox) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: publisher.publish(post(f"parallel post {n}")), range(12)))
    assert len({r.platform_id for r in results}) == 12
    assert len(posts_of(sandbox, account)) == 12


# --- refusals -----------------------------------------------------------------------------------------------
def test_bad_oauth1_signature_is_rejected(sandbox: Sandbox) -> None:
    account = new_account()
    credentials = dict(sandbox.credentials("x", account))
    credentials["access_token_secret"] = "not-the-secret"
    publisher = create_publisher(credentials, base_url=sandbox.base_url("x"), timeout=5)
    with pytest.raises(Rejected) as refused:
        publisher.publish(post("never"))
    assert refused.value.status == 401
    assert "Unauthorized" in str(refused.value) and "access token/secret" in str(refused.value)
    assert "not-the-secret" not in str(refused.value) and credentials["consumer_secret"] not in str(refused.value)
    assert posts_of(sandbox, account) == []


def test_unknown_user_token_is_rejected(sandbox: Sandbox) -> None:
    publisher = create_publisher({"user_token": "expired-token"}, base_url=sandbox.base_url("x"), timeout=5)
    with pytest.raises(Rejected) as refused:
        publisher.publish(post("never"))
    assert refused.value.status == 401 and "expired-token" not in str(refused.value)


def test_app_only_bearer_token_cannot_post(sandbox: Sandbox, x_app: XApp) -> None:
    publisher = create_publisher({"user_token": x_app.app_bearer_token}, base_url=sandbox.base_url("x"))
    with pytest.raises(Rejected, match="Application-Only is forbidden") as refused:
        publisher.publish(post("never"))
    assert refused.value.status == 403


@pytest.mark.parametrize("text", ["a" * 281, "日" * 141])
def test_over_length_is_rejected(sandbox: Sandbox, text: str) -> None:
    account = new_account()
    with pytest.raises(Rejected, match="Your Tweet text is too long") as refused:
        publisher_for(sandbox, account).publish(post(text))
    assert refused.value.status == 400 and posts_of(sandbox, account) == []


def test_weighted_limit_is_exactly_280(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox, new_account())
    publisher.publish(post("日" * 140))
    publisher.publish(post("a" * 256 + " https://example.org/a-very-long-path-that-counts-as-23"))


def test_duplicate_content_is_rejected(sandbox: Sandbox) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account)
    publisher.publish(post("Same words twice"))
    with pytest.raises(Rejected) as refused:
        publisher.publish(post("Same words twice"))
    message = str(refused.value)
    assert message.startswith("X refused duplicate content: ")
    assert "You are not allowed to create a Tweet with duplicate content" in message
    assert refused.value.status == 403 and len(posts_of(sandbox, account)) == 1


def test_same_text_from_another_account_is_not_a_duplicate_for_the_sandbox(sandbox: Sandbox) -> None:
    # X's automation rules forbid it; the planner refuses it. The API's duplicate check is per account.
    publisher_for(sandbox, new_account()).publish(post("Shared words"))
    publisher_for(sandbox, new_account()).publish(post("Shared words"))


def test_too_many_images_are_rejected(sandbox: Sandbox) -> None:
    images = tuple(image(jpeg_bytes(), alt=f"picture {n}") for n in range(5))
    with pytest.raises(Rejected, match="at most 4") as refused:
        publisher_for(sandbox, new_account()).publish(post("Five pictures", images=images))
    assert refused.value.status == 400


def test_image_over_5_mb_is_rejected(sandbox: Sandbox) -> None:
    too_big = jpeg_bytes() + b"\0" * (5 * 1024 * 1024)
    with pytest.raises(Rejected, match="File size exceeds 5242880 bytes"):
        publisher_for(sandbox, new_account()).publish(post("Huge", images=(image(too_big),)))


def test_alt_text_over_1000_characters_is_rejected(sandbox: Sandbox) -> None:
    with pytest.raises(Rejected, match="at most 1000 characters"):
        publisher_for(sandbox, new_account()).publish(post("Long alt", images=(image(jpeg_bytes(), alt="x" * 1001),)))


def test_reply_rule_refusal_names_the_rule(sandbox: Sandbox, x_app: XApp) -> None:
    author, replier = new_account(), new_account()
    author_publisher, replier_publisher = publisher_for(sandbox, author), publisher_for(sandbox, replier)
    x_app.reply_rule = True
    try:
        unmentioned = author_publisher.publish(post("A post that mentions nobody"))
        target = ReplyTarget(parent=unmentioned.reply_ref, root=unmentioned.reply_ref)
        with pytest.raises(Rejected) as refused:
            replier_publisher.publish(post("Can I reply?", reply_to=target))
        assert "since 23 Feb 2026 X lets API clients reply only where" in str(refused.value)
        assert "Reply to this conversation is not allowed" in str(refused.value)
        assert refused.value.status == 403

        mentioning = author_publisher.publish(post(f"What do you think, @{replier}?"))
        replier_publisher.publish(post("Yes!", reply_to=ReplyTarget(mentioning.reply_ref, mentioning.reply_ref)))

        own_thread = ReplyTarget(parent=unmentioned.reply_ref, root=unmentioned.reply_ref)
        author_publisher.publish(post("My own thread goes on", reply_to=own_thread))
        x_app.reply_rule_covers_own_posts = True
        with pytest.raises(Rejected, match="since 23 Feb 2026"):
            author_publisher.publish(post("My own thread, if X refuses it", reply_to=own_thread))
    finally:
        x_app.reply_rule = False
        x_app.reply_rule_covers_own_posts = False


def test_reply_to_a_missing_post_is_rejected(sandbox: Sandbox) -> None:
    with pytest.raises(Rejected, match="deleted or not visible"):
        publisher_for(sandbox, new_account()).publish(post("Reply", reply_to=ReplyTarget("1234567890123", "1")))


# --- transient failures and unknown outcomes ------------------------------------------------------------
def test_server_error_is_retry_later(sandbox: Sandbox) -> None:
    account = new_account()
    sandbox.faults.update(error_rate=1)
    with pytest.raises(RetryLater) as failed:
        publisher_for(sandbox, account).publish(post("Retry me"))
    assert failed.value.status == 503 and posts_of(sandbox, account) == []


def test_connection_refused_is_retry_later() -> None:
    publisher = create_publisher({"user_token": "t"}, base_url=f"http://127.0.0.1:{closed_port()}", timeout=2)
    with pytest.raises(RetryLater, match=r"\(connection refused\); nothing was sent"):
        publisher.publish(post("Nobody listens"))


def test_server_error_during_image_upload_is_retry_later(sandbox: Sandbox) -> None:
    sandbox.faults.update(error_rate=1)
    with pytest.raises(RetryLater, match="uploading image 1"):
        publisher_for(sandbox, new_account()).publish(post("Picture", images=(image(jpeg_bytes()),)))


def test_timeout_after_accept_is_unknown_and_settle_finds_the_post(sandbox: Sandbox) -> None:
    """A retry after an unknown outcome does not create a second post."""
    account = new_account()
    publisher = publisher_for(sandbox, account, timeout=0.5)
    storm_post = post("Links get t.co-wrapped: https://example.org/call and example.net #Storm")
    sandbox.faults.update(accept_then_timeout_rate=1, hold_seconds=2)
    with pytest.raises(OutcomeUnknown, match="may exist"):
        publisher.publish(storm_post)
    sandbox.faults = Faults()

    found = publisher.settle(storm_post)
    [accepted] = posts_of(sandbox, account)
    assert isinstance(found, Published) and found.platform_id == accepted.post_id
    assert found.url == f"https://x.com/{account}/status/{accepted.post_id}"
    # Had the dispatcher resent blindly, X's duplicate check would refuse it: still exactly one post.
    with pytest.raises(Rejected, match="duplicate content"):
        publisher.publish(storm_post)
    assert len(posts_of(sandbox, account)) == 1


def test_connection_dropped_after_accept_is_unknown_and_settle_finds_it(sandbox: Sandbox) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account)
    storm_post = post("Dropped after it was stored")
    sandbox.faults.update(accept_then_drop_rate=1)
    with pytest.raises(OutcomeUnknown, match="connection closed without an answer"):
        publisher.publish(storm_post)
    sandbox.faults = Faults()
    found = publisher.settle(storm_post)
    assert found is not None and [p.post_id for p in posts_of(sandbox, account)] == [found.platform_id]


def test_connection_dropped_before_handling_settles_to_none_then_sends_once(sandbox: Sandbox) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account)
    storm_post = post("Dropped before it was read")
    sandbox.faults.update(drop_rate=1)
    with pytest.raises(OutcomeUnknown):  # the client cannot know the server had not acted yet
        publisher.publish(storm_post)
    sandbox.faults = Faults()
    assert publisher.settle(storm_post) is None
    sent = publisher.publish(storm_post)
    assert [p.post_id for p in posts_of(sandbox, account)] == [sent.platform_id]


def test_settle_finds_an_image_post_despite_its_media_link(sandbox: Sandbox, x_app: XApp) -> None:
    publisher = publisher_for(sandbox, new_account(), oauth2_from=x_app)
    with_image = post("Picture post", images=(image(jpeg_bytes()),))
    sent = publisher.publish(with_image)
    assert sent.response["text"].startswith("Picture post https://t.co/")
    settled = publisher.settle(with_image)
    assert settled is not None and settled.platform_id == sent.platform_id
    assert settled.settled_by == "read back from the account's posts"
    assert publisher.settle(post("Picture post")) is None  # same words, but that post had an image


def test_settle_reads_twice_before_saying_the_post_is_absent(sandbox: Sandbox) -> None:
    account = new_account()
    credentials = sandbox.credentials("x", account)
    publisher = create_publisher(credentials, base_url=sandbox.base_url("x"), options={"settle_recheck_seconds": 0.05})
    earlier = len(sandbox.requests("x"))
    assert publisher.settle(post("Never sent")) is None
    user_id = credentials["access_token"].split("-")[0]
    # Two reads of the timeline; no GET /2/users/me: the user id came from the OAuth 1.0a access token.
    assert [r[1:3] for r in sandbox.requests("x")[earlier:]] == [("GET", f"/2/users/{user_id}/tweets")] * 2


def test_settle_when_reads_are_refused_uses_the_duplicate_content_answer(sandbox: Sandbox, x_app: XApp) -> None:
    account = new_account()
    publisher = publisher_for(sandbox, account)
    x_app.read_access = False
    try:
        publisher.publish(post("This went out"))
        settled = publisher.settle(post("This went out"))  # X refuses it again as duplicate: it exists
        assert settled is not None and settled.platform_id == "" and settled.url == f"https://x.com/{account}"
        assert settled.response["settled_by"] == "duplicate-content answer"
        fresh = publisher.settle(post("This never went out"))  # X takes it: it did not exist, now it does once
        assert fresh is not None and fresh.platform_id
    finally:
        x_app.read_access = True
    texts = [p.text for p in sandbox.posts("x") if p.account == account]
    assert sorted(texts) == ["This never went out", "This went out"]


def test_settle_when_reads_are_refused_and_no_answer_asks_a_person(sandbox: Sandbox, x_app: XApp) -> None:
    account = new_account()
    publisher = create_publisher(sandbox.credentials("x", account), base_url=sandbox.base_url("x"), timeout=0.5)
    x_app.read_access = False
    sandbox.faults.update(accept_then_timeout_rate=1, hold_seconds=2)
    try:
        with pytest.raises(OutcomeUnknown) as unknown:
            publisher.settle(post("Did this go out?"))
    finally:
        x_app.read_access = True
        sandbox.faults.update(accept_then_timeout_rate=0)
    message = str(unknown.value)
    assert f"https://x.com/{account}" in message and "'Did this go out?'" in message


# --- rate limits --------------------------------------------------------------------------------------------
def test_injected_429_is_rate_limited_until_x_rate_limit_reset(sandbox: Sandbox) -> None:
    sandbox.faults.update(rate_limit_rate=1, rate_limit_reset=30)
    before = time.time()
    with pytest.raises(RateLimited) as limited:
        publisher_for(sandbox, new_account()).publish(post("Too fast"))
    assert before + 29 <= limited.value.until.timestamp() <= before + 32
    assert limited.value.until.tzinfo == timezone.utc and "15-minute limit" in str(limited.value)


def test_rate_limit_is_waited_out() -> None:
    clock = DrivenClock()  # the sandbox's rate window runs on it: the test moves it instead of sleeping
    with Sandbox([XApp(limits=XLimits(posts_per_window=2, window_seconds=1.5))], clock=clock.epoch) as sandbox:
        publisher = publisher_for(sandbox, "waiter")
        publisher.publish(post("one"))
        publisher.publish(post("two"))
        with pytest.raises(RateLimited) as limited:
            publisher.publish(post("three"))
        until = limited.value.until
        assert 0 < until.timestamp() - clock.epoch() <= 2.6
        with pytest.raises(RateLimited):  # still inside the window
            publisher.publish(post("three, too early"))

        clock.advance(until - clock() + timedelta(milliseconds=50))
        publisher.publish(post("three, after the reset"))
        assert [p.text for p in sandbox.posts("x")] == ["one", "two", "three, after the reset"]


def test_exhausted_24_hour_user_bucket_sets_until_to_its_reset() -> None:
    with Sandbox([XApp(limits=XLimits(user_posts_per_day=1))]) as sandbox:
        publisher = publisher_for(sandbox, "daily")
        publisher.publish(post("the only one today"))
        with pytest.raises(RateLimited) as limited:
            publisher.publish(post("one too many"))
    seconds_left = limited.value.until.timestamp() - time.time()
    assert 24 * 3600 - 60 < seconds_left <= 24 * 3600 + 1
    assert "24-hour user limit" in str(limited.value)


# --- agreement with X's published API description ----------------------------------------------------------
@pytest.fixture(scope="module")
def x_openapi() -> dict[str, Any]:
    if not X_OPENAPI.exists():
        pytest.skip(f"X OpenAPI description not found at {X_OPENAPI} (../shared/conformance is absent)")
    return json.loads(X_OPENAPI.read_text())


def schema_validator(openapi: dict[str, Any], name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                            "components": openapi["components"]})


def test_sandbox_answers_and_client_requests_match_the_x_openapi(sandbox: Sandbox, x_openapi: dict) -> None:
    credentials = sandbox.credentials("x", "conformance")
    client = tweepy.Client(consumer_key=credentials["consumer_key"], consumer_secret=credentials["consumer_secret"],
                           access_token=credentials["access_token"],
                           access_token_secret=credentials["access_token_secret"], return_type=requests.Response)
    client.session.mount("https://api.twitter.com", XTransportAdapter(base_url=sandbox.base_url("x"), timeout=5))
    auth = tweepy.OAuth1UserHandler(credentials["consumer_key"], credentials["consumer_secret"],
                                    credentials["access_token"], credentials["access_token_secret"]).apply_auth()

    def check(name: str, body: dict) -> None:
        errors = [e.message for e in schema_validator(x_openapi, name).iter_errors(body)]
        assert errors == [], f"{name}: {errors}"

    upload = client.session.post("https://api.twitter.com/2/media/upload", auth=auth,
                                 files={"media": ("p.jpg", jpeg_bytes(), "image/jpeg")},
                                 data={"media_category": "tweet_image"})
    check("MediaUploadResponse", upload.json())
    media_id = upload.json()["data"]["id"]
    metadata_request = {"id": media_id, "metadata": {"alt_text": {"text": "alt"}}}
    check("CreateMediaMetadataRequest", metadata_request)
    check("CreateMediaMetadataResponse",
          client.session.post("https://api.twitter.com/2/media/metadata", auth=auth, json=metadata_request).json())

    created = client.create_tweet(text="Conformance", media_ids=[media_id])
    assert created.status_code == 201
    check("CreatePostsResponse", created.json())
    reply = client.create_tweet(text="Reply", in_reply_to_tweet_id=created.json()["data"]["id"])
    for accepted in [p for p in sandbox.posts("x") if p.account == "conformance"]:
        check("CreatePostsRequest", accepted.extra["request"])  # what Tweepy sent

    me = client.get_me()
    check("GetUsersMeResponse", me.json())
    timeline = client.get_users_tweets(me.json()["data"]["id"], user_auth=True)
    check("GetUsersPostsResponse", timeline.json())
    assert [t["id"] for t in timeline.json()["data"]] == [reply.json()["data"]["id"], created.json()["data"]["id"]]

    with pytest.raises(tweepy.BadRequest) as invalid:
        client.create_tweet(text="Too many", media_ids=[media_id] * 5)
    body = invalid.value.response.json()
    check("InvalidRequestProblem", {k: v for k, v in body.items() if k != "errors"})


def test_settle_async_agrees_with_settle(sandbox: Sandbox, x_app: XApp) -> None:
    """The daemon settles on its event loop: the same answers as the sync settle, through the async client."""
    oauth1 = publisher_for(sandbox, new_account())
    oauth2 = publisher_for(sandbox, new_account(), oauth2_from=x_app)  # its user id comes from GET /2/users/me
    sent = oauth1.publish(post("Out there already"))

    async def settle_all() -> list[Published | None]:
        try:
            return [await oauth1.settle_async(post("Out there already")),
                    await oauth1.settle_async(post("Never sent")),
                    await oauth2.settle_async(post("Never sent either"))]
        finally:
            await oauth1.aclose()

    assert asyncio.run(settle_all()) == [oauth1.settle(post("Out there already")), None, None] and sent.platform_id


def test_settle_async_without_read_access_takes_the_duplicate_answer(sandbox: Sandbox, x_app: XApp) -> None:
    publisher = publisher_for(sandbox, new_account())
    publisher.publish(post("Landed before the answer was lost"))
    x_app.read_access = False
    try:
        async def settle() -> Published | None:
            try:
                return await publisher.settle_async(post("Landed before the answer was lost"))
            finally:
                await publisher.aclose()

        found = asyncio.run(settle())
    finally:
        x_app.read_access = True
    assert found is not None and found.response["settled_by"] == "duplicate-content answer"

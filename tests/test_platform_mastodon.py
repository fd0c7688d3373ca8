"""The Mastodon publisher, through the real Mastodon.py and real HTTP, against the sandbox instance."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import uuid
from dataclasses import fields, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from mastodon import Mastodon, MastodonAPIError
from PIL import Image as PILImage

from scheduler.platforms.base import (
    Image,
    OutcomeUnknown,
    OutgoingPost,
    Published,
    Publisher,
    RateLimited,
    Rejected,
    ReplyTarget,
    RetryLater,
)
from scheduler.platforms.mastodon.facts import CREDENTIAL_SETS as REQUIRED_CREDENTIALS
from scheduler.platforms.mastodon.facts import READBACK_MAX_PAGES, READBACK_PAGE_SIZE
from scheduler.platforms.mastodon.instance import DEFAULT_INSTANCE_LIMITS, fetch_instance_limits
from scheduler.platforms.mastodon.publisher import MastodonPublisher, create_publisher
from scheduler.tid import tid_time
from scheduler.sandbox.core import Faults, Sandbox
from scheduler.sandbox.mastodon import MastodonApp, MastodonLimits

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
FAST_POLL = {"media_poll_interval": 0.05, "settle_recheck": 0.05}


@pytest.fixture(scope="module")
def app() -> MastodonApp:
    return MastodonApp(async_media_threshold=4 * 1024, processing_delay=0.2)


@pytest.fixture(scope="module")
def sandbox(app: MastodonApp) -> Iterator[Sandbox]:
    with Sandbox([app], seed=1) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(sandbox: Sandbox) -> Iterator[None]:
    yield
    for setting in fields(Faults):
        setattr(sandbox.faults, setting.name, setting.default)


def new_account(sandbox: Sandbox, *, timeout: float = 5.0) -> tuple[MastodonPublisher, str]:
    """A fresh sandbox account (its own rate windows) and its publisher."""
    account = f"acct_{uuid.uuid4().hex[:10]}"
    credentials = sandbox.credentials("mastodon", account)
    publisher = create_publisher(credentials, base_url=sandbox.base_url("mastodon"), timeout=timeout,
                                 options=FAST_POLL)
    return publisher, credentials["handle"]


def tid(now: float | None = None) -> str:
    """A TID (https://atproto.com/specs/tid), as the queue chooses idempotency keys."""
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = int((time.time() if now is None else now) * 1_000_000) << 10 | (uuid.uuid4().int & 1023)
    return "".join(alphabet[(value >> (5 * shift)) & 31] for shift in reversed(range(13)))


def outgoing(text: str = "Storm time! #ClimateStrike", **changes: object) -> OutgoingPost:
    values: dict[str, object] = {"key": uuid.uuid4().hex, "idempotency_key": tid(), "text": text,
                                 "lang": "en"}
    values.update(changes)
    return OutgoingPost(**values)  # type: ignore[arg-type]


def jpeg(size: tuple[int, int] = (64, 48), *, noisy: bool = False) -> bytes:
    image = PILImage.effect_noise(size, 80).convert("RGB") if noisy else PILImage.new("RGB", size, "teal")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def posts_of(sandbox: Sandbox, handle: str) -> list:
    return [post for post in sandbox.posts("mastodon") if post.account == handle]


# --- publishing ------------------------------------------------------------------------------------
def test_text_post_is_published_with_language_and_link(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    assert isinstance(publisher, Publisher)
    result = publisher.publish(outgoing("Hello #storm https://example.org/a-very-long-link", lang="de",
                                        visibility="unlisted"))
    assert isinstance(result, Published)
    assert result.url == f"{sandbox.base_url('mastodon')}/@{handle}/{result.platform_id}"
    assert result.reply_ref == result.platform_id
    [accepted] = posts_of(sandbox, handle)
    assert accepted.post_id == result.platform_id
    assert accepted.text == "Hello #storm https://example.org/a-very-long-link"
    assert accepted.lang == "de"
    assert accepted.extra["visibility"] == "unlisted"


def test_images_with_alt_text_are_uploaded_through_v2_media(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    small, large = jpeg(), jpeg((200, 200), noisy=True)  # large > the 4 KiB async threshold → 202
    assert len(large) > 4 * 1024
    images = (Image(small, "image/jpeg", "A teal square", 64, 48),
              Image(large, "image/jpeg", "Noise, standing for a crowd", 200, 200))
    result = publisher.publish(outgoing("With pictures", images=images))
    [accepted] = posts_of(sandbox, handle)
    assert accepted.post_id == result.platform_id
    assert [media.alt for media in accepted.media] == ["A teal square", "Noise, standing for a crowd"]
    assert [(media.width, media.height) for media in accepted.media] == [(64, 48), (200, 200)]
    assert all(media.has_exif is False for media in accepted.media)
    assert result.response["media"] == 2


def test_large_image_is_polled_until_processed(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    large = jpeg((200, 200), noisy=True)
    publisher.publish(outgoing("Processed first", images=(Image(large, "image/jpeg", "noise", 200, 200),)))
    [accepted] = posts_of(sandbox, handle)
    media_id = accepted.media[0].media_id
    paths = [path for _, method, path, _ in sandbox.requests("mastodon") if method == "GET"]
    assert f"/api/v1/media/{media_id}" in paths
    assert not any(path == "/api/v1/media" for _, _, path, _ in sandbox.requests("mastodon"))  # no v1 upload


def test_unprocessed_media_is_refused_with_mastodons_422(sandbox: Sandbox) -> None:
    """What the poll avoids: the real client sending a status right after a 202 upload."""
    credentials = sandbox.credentials("mastodon", "impatient")
    client = Mastodon(access_token=credentials["access_token"], api_base_url=sandbox.base_url("mastodon"),
                      ratelimit_method="throw", mastodon_version="4.3.0", version_check_mode="created")
    attachment = client.media_post(jpeg((200, 200), noisy=True), mime_type="image/jpeg", description="x")
    assert attachment["url"] is None
    with pytest.raises(MastodonAPIError) as refused:
        client.status_post("too soon", media_ids=[attachment])
    assert refused.value.args[1] == 422
    assert "not finished processing" in refused.value.args[3]


def test_a_thread_replies_to_the_earlier_post(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    first = publisher.publish(outgoing("1/2 The storm starts now"))
    second = publisher.publish(outgoing("2/2 Join in", reply_to=ReplyTarget(first.reply_ref, first.reply_ref)))
    accepted = posts_of(sandbox, handle)
    assert [post.reply_to for post in accepted] == [None, first.platform_id]
    assert second.platform_id != first.platform_id


def test_the_same_idempotency_key_never_makes_a_second_post(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    post = outgoing("Only once")
    first = publisher.publish(post)
    again = publisher.publish(post)
    assert again.platform_id == first.platform_id
    assert len(posts_of(sandbox, handle)) == 1
    publisher.publish(outgoing("Only once"))  # another post (another key) with the same text is new
    assert len(posts_of(sandbox, handle)) == 2


def test_the_instance_forgets_a_key_after_its_window(sandbox: Sandbox, app: MastodonApp) -> None:
    """Why settle refuses past the window: the same key then makes a second post."""
    publisher, handle = new_account(sandbox)
    post = outgoing("Remembered for a while")
    app.set_limits(idempotency_window=0.3)
    try:
        first = publisher.publish(post)
        assert publisher.publish(post).platform_id == first.platform_id
        time.sleep(0.35)
        assert publisher.publish(post).platform_id != first.platform_id
    finally:
        app.set_limits(idempotency_window=MastodonLimits().idempotency_window)
    assert len(posts_of(sandbox, handle)) == 2


def test_several_threads_share_one_publisher(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    results: list[Published] = []

    def send(number: int) -> None:
        results.append(publisher.publish(outgoing(f"Thread {number} #storm")))

    threads = [threading.Thread(target=send, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({result.platform_id for result in results}) == 8
    assert len(posts_of(sandbox, handle)) == 8


# --- errors ----------------------------------------------------------------------------------------
def test_server_error_is_retry_later(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    sandbox.faults.error_rate = 1
    with pytest.raises(RetryLater) as error:
        publisher.publish(outgoing())
    assert error.value.status == 503
    assert posts_of(sandbox, handle) == []


def test_refused_connection_is_retry_later() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    publisher = create_publisher({"access_token": "t"}, base_url=f"http://127.0.0.1:{port}", timeout=0.5)
    with pytest.raises(RetryLater, match="could not connect"):
        publisher.publish(outgoing())


def test_timeout_after_accepting_is_unknown_and_settle_finds_the_post(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox, timeout=0.5)
    post = outgoing("Accepted, but the answer is late")
    sandbox.faults.update(accept_then_timeout_rate=1, hold_seconds=1.5)
    with pytest.raises(OutcomeUnknown, match="may exist"):
        publisher.publish(post)
    sandbox.faults.accept_then_timeout_rate = 0
    [accepted] = posts_of(sandbox, handle)
    settled = publisher.settle(post)
    assert settled is not None and settled.platform_id == accepted.post_id
    assert len(posts_of(sandbox, handle)) == 1


def test_dropped_connection_after_accepting_is_unknown_and_settle_finds_the_post(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    post = outgoing("Accepted, then the line dropped")
    sandbox.faults.accept_then_drop_rate = 1
    with pytest.raises(OutcomeUnknown):
        publisher.publish(post)
    sandbox.faults.accept_then_drop_rate = 0
    [accepted] = posts_of(sandbox, handle)
    settled = publisher.settle(post)
    assert settled is not None and settled.platform_id == accepted.post_id
    assert len(posts_of(sandbox, handle)) == 1


def test_dropped_connection_before_handling_is_unknown_and_settle_reads_it_is_not_there(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    post = outgoing("The first attempt never arrived")
    sandbox.faults.drop_rate = 1
    with pytest.raises(OutcomeUnknown):
        publisher.publish(post)
    sandbox.faults.drop_rate = 0
    assert posts_of(sandbox, handle) == []
    assert publisher.settle(post) is None  # read back past the attempt: not there, sending is safe
    assert posts_of(sandbox, handle) == []  # settling sends nothing
    publisher.publish(post)
    assert len(posts_of(sandbox, handle)) == 1


def test_timeout_while_uploading_an_image_is_retry_later(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox, timeout=0.5)
    sandbox.faults.update(accept_then_timeout_rate=1, hold_seconds=1.5)
    with pytest.raises(RetryLater, match="no post was made"):
        publisher.publish(outgoing("Image first", images=(Image(jpeg(), "image/jpeg", "teal", 64, 48),)))
    assert posts_of(sandbox, handle) == []


def test_settle_after_a_restart_uses_the_time_inside_the_key(sandbox: Sandbox) -> None:
    """A new publisher (as after a crash) still settles: the TID key was made before the first send."""
    publisher, handle = new_account(sandbox, timeout=0.5)
    post = outgoing("Sent before the crash")
    sandbox.faults.update(accept_then_timeout_rate=1, hold_seconds=1.5)
    with pytest.raises(OutcomeUnknown):
        publisher.publish(post)
    sandbox.faults.accept_then_timeout_rate = 0
    restarted = create_publisher(sandbox.credentials("mastodon", handle), base_url=sandbox.base_url("mastodon"))
    settled = restarted.settle(post)
    [accepted] = posts_of(sandbox, handle)
    assert settled is not None and settled.platform_id == accepted.post_id


def test_settle_from_a_new_publisher_with_images_finds_the_one_post(sandbox: Sandbox) -> None:
    """After a restart the images are uploaded again, but the key still names the first status."""
    publisher, handle = new_account(sandbox)
    post = outgoing("Pictures, then a crash", images=(Image(jpeg(), "image/jpeg", "teal", 64, 48),))
    first = publisher.publish(post)
    restarted = create_publisher(sandbox.credentials("mastodon", handle), base_url=sandbox.base_url("mastodon"))
    settled = restarted.settle(post)
    assert settled is not None and settled.platform_id == first.platform_id
    assert len(posts_of(sandbox, handle)) == 1


def test_settle_says_not_published_when_the_instance_refuses_the_post(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    assert publisher.settle(outgoing("x" * 501)) is None  # 422 comes after the key lookup: no such post
    assert posts_of(sandbox, handle) == []


def test_settle_while_the_instance_is_down_can_be_retried(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    post = outgoing("Settled later")
    publisher.publish(post)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{unused.getsockname()[1]}"
    down = create_publisher(sandbox.credentials("mastodon", handle), base_url=nobody, options=FAST_POLL)
    with pytest.raises(RetryLater):
        down.settle(post)
    assert publisher.settle(post) is not None
    assert len(posts_of(sandbox, handle)) == 1


def test_settle_reads_back_however_old_the_attempt(sandbox: Sandbox) -> None:
    """Reading what the instance holds does not depend on the Idempotency-Key's one-hour memory."""
    publisher, handle = new_account(sandbox)
    long_ago = datetime.now(timezone.utc) - timedelta(hours=5)
    post = outgoing("Sent long ago, answer lost")
    publisher.publish(post)
    settled = publisher.settle(replace(post, attempted_at=long_ago))
    assert settled is not None and settled.settled_by == "read back from the account's statuses"
    assert len(posts_of(sandbox, handle)) == 1


def test_settle_of_an_attempt_of_unknown_age_asks_a_person(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    with pytest.raises(OutcomeUnknown, match=f"/@{handle}.*look for a post starting"):
        publisher.settle(outgoing(idempotency_key="not-a-tid"))
    assert posts_of(sandbox, handle) == []


def test_settle_when_the_token_is_refused_asks_a_person(sandbox: Sandbox, app: MastodonApp) -> None:
    publisher, handle = new_account(sandbox)
    post = outgoing("Then the token was revoked")
    publisher.publish(post)
    app.revoke_token(handle)
    with pytest.raises(OutcomeUnknown, match="refused the access token"):
        publisher.settle(post)


def test_settle_matches_text_media_reply_target_and_time(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    card = (Image(jpeg(), "image/jpeg", "teal", 64, 48),)
    parent = publisher.publish(outgoing("Thread start #Storm https://example.org/call?x=1\nsecond line"))
    reply = outgoing("حرية ✊🏽 reply", reply_to=ReplyTarget(parent.platform_id, parent.platform_id), images=card)
    sent = publisher.publish(reply)
    assert publisher.settle(reply).platform_id == sent.platform_id  # type: ignore[union-attr]
    assert publisher.settle(outgoing("Thread start   #Storm https://example.org/call?x=1 second line")) is not None
    assert publisher.settle(replace(reply, images=())) is None             # not the same attachments
    assert publisher.settle(replace(reply, reply_to=None)) is None         # not the same reply target
    assert publisher.settle(replace(reply, text="حرية ✊🏽 other")) is None  # not the same text
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    assert publisher.settle(replace(reply, attempted_at=later)) is None    # made before the attempt: another post


def test_too_many_statuses_since_the_attempt_to_look_through_asks_a_person(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    since = datetime.now(timezone.utc) - timedelta(seconds=10)
    for number in range(READBACK_PAGE_SIZE * READBACK_MAX_PAGES + 1):
        publisher.publish(outgoing(f"busy account {number}"))
    with pytest.raises(OutcomeUnknown, match="too many to look through"):
        publisher.settle(outgoing("never sent", attempted_at=since))


# --- a server that ignores Idempotency-Key (Takahē, GoToSocial, snac2) --------------------------------
@pytest.fixture(scope="module")
def takahe_like() -> Iterator[tuple[Sandbox, MastodonApp]]:
    app = MastodonApp.takahe_like()
    with Sandbox([app], seed=2) as running:
        yield running, app


def publish_uncertain(sandbox: Sandbox, publisher: MastodonPublisher, post: OutgoingPost, fault: str) -> None:
    """Publish ``post`` with ``fault`` on its status request only (the images upload fine): outcome unknown."""
    sandbox.faults.update(**{fault: 1}, only_paths=["/api/v1/statuses"])
    try:
        with pytest.raises(OutcomeUnknown):
            publisher.publish(post)
    finally:
        sandbox.faults.update(**{fault: 0}, only_paths=[])


def test_key_ignoring_server_uncertain_post_is_found_not_sent_twice(takahe_like: tuple[Sandbox, MastodonApp]) -> None:
    sandbox, _ = takahe_like
    publisher, handle = new_account(sandbox)
    post = outgoing("Accepted, then the line dropped #Storm", images=(Image(jpeg(), "image/jpeg", "teal", 64, 48),))
    publish_uncertain(sandbox, publisher, post, "accept_then_drop_rate")
    settled = publisher.settle(post)
    [accepted] = posts_of(sandbox, handle)
    assert settled is not None and settled.platform_id == accepted.post_id
    assert settled.settled_by == "read back from the account's statuses"


def test_key_ignoring_server_resend_uploads_its_images_again(takahe_like: tuple[Sandbox, MastodonApp]) -> None:
    """The first attempt may hold the media ids it uploaded: a resend must not take them away from it."""
    sandbox, _ = takahe_like
    publisher, handle = new_account(sandbox)
    post = outgoing("Pictures twice", images=(Image(jpeg(), "image/jpeg", "teal", 64, 48),))
    publish_uncertain(sandbox, publisher, post, "drop_rate")
    uploads_before = [r for r in sandbox.requests("mastodon") if r[2] == "/api/v2/media"]
    assert publisher.settle(post) is None
    publisher.publish(post)
    uploads = [r for r in sandbox.requests("mastodon") if r[2] == "/api/v2/media"]
    assert len(uploads) == len(uploads_before) + 1
    [accepted] = posts_of(sandbox, handle)
    assert len(accepted.media) == 1


def test_key_ignoring_server_bad_token_is_a_credential_problem_in_its_words(
        takahe_like: tuple[Sandbox, MastodonApp]) -> None:
    sandbox, _ = takahe_like
    publisher = create_publisher({"access_token": "not-a-token"}, base_url=sandbox.base_url("mastodon"))
    with pytest.raises(Rejected) as refused:
        publisher.publish(outgoing())
    message = str(refused.value)
    assert "Invalid Bearer token" in message and "<" not in message
    assert "refused the access token" in message and "make a new one" in message


def test_injected_rate_limit_names_the_reset(sandbox: Sandbox) -> None:
    publisher, _ = new_account(sandbox)
    sandbox.faults.update(rate_limit_rate=1, rate_limit_reset=30)
    before = datetime.now(timezone.utc)
    with pytest.raises(RateLimited) as error:
        publisher.publish(outgoing())
    assert before + timedelta(seconds=29) <= error.value.until <= before + timedelta(seconds=32)


def test_waiting_out_the_statuses_limit(sandbox: Sandbox, app: MastodonApp) -> None:
    publisher, handle = new_account(sandbox)
    app.set_limits(statuses=1, statuses_period=1.0)
    try:
        publisher.publish(outgoing("first"))
        with pytest.raises(RateLimited) as error:
            publisher.publish(outgoing("second"))
        until = error.value.until
        assert datetime.now(timezone.utc) < until <= datetime.now(timezone.utc) + timedelta(seconds=1.1)
        time.sleep(max(0.0, (until - datetime.now(timezone.utc)).total_seconds()))
        publisher.publish(outgoing("second"))
    finally:
        app.set_limits(statuses=MastodonLimits().statuses, statuses_period=MastodonLimits().statuses_period)
    assert [post.text for post in posts_of(sandbox, handle)] == ["first", "second"]


def test_media_upload_limit_is_rate_limited(sandbox: Sandbox, app: MastodonApp) -> None:
    publisher, _ = new_account(sandbox)
    app.set_limits(media_uploads=1, media_period=60.0)
    try:
        image = Image(jpeg(), "image/jpeg", "teal", 64, 48)
        with pytest.raises(RateLimited) as error:
            publisher.publish(outgoing("two images", images=(image, image)))
    finally:
        app.set_limits(media_uploads=MastodonLimits().media_uploads, media_period=MastodonLimits().media_period)
    seconds = (error.value.until - datetime.now(timezone.utc)).total_seconds()
    assert 58 < seconds <= 60


def test_bad_token_is_rejected_without_showing_it(sandbox: Sandbox) -> None:
    secret = "definitely-not-a-token-" + uuid.uuid4().hex
    publisher = create_publisher({"access_token": secret}, base_url=sandbox.base_url("mastodon"))
    with pytest.raises(Rejected) as error:
        publisher.publish(outgoing())
    assert error.value.status == 401
    assert "The access token is invalid" in str(error.value)
    assert secret not in str(error.value) and secret not in repr(publisher)


def test_over_length_is_rejected_in_the_instances_words(sandbox: Sandbox) -> None:
    publisher, handle = new_account(sandbox)
    with pytest.raises(Rejected) as error:
        publisher.publish(outgoing("x" * 501))
    assert error.value.status == 422
    assert "Text character limit of 500 exceeded" in str(error.value)
    publisher.publish(outgoing("x" * 470 + " https://example.org/" + "y" * 100))  # 470 + 1 + 23: a URL counts as 23
    assert len(posts_of(sandbox, handle)) == 1


def test_length_is_counted_as_mastodon_counts_it(sandbox: Sandbox) -> None:
    """Grapheme clusters, not code points; a remote mention counts only its local part."""
    publisher, handle = new_account(sandbox)
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467"  # one grapheme, five code points
    publisher.publish(outgoing(family * 500))
    publisher.publish(outgoing("@alice@" + "very-long-domain." * 30 + "example " + "x" * 493))
    with pytest.raises(Rejected):
        publisher.publish(outgoing(family * 501))
    assert len(posts_of(sandbox, handle)) == 2


def test_alt_text_over_the_limit_is_rejected(sandbox: Sandbox) -> None:
    publisher, _ = new_account(sandbox)
    with pytest.raises(Rejected, match="Description is too long"):
        publisher.publish(outgoing(images=(Image(jpeg(), "image/jpeg", "a" * 1501, 64, 48),)))


# --- limits and configuration ----------------------------------------------------------------------
def test_instance_limits_come_from_the_instance(sandbox: Sandbox, app: MastodonApp) -> None:
    assert fetch_instance_limits(sandbox.base_url("mastodon")) == dict(DEFAULT_INSTANCE_LIMITS)
    app.set_limits(max_characters=1000, description_limit=900)
    try:
        limits = fetch_instance_limits(sandbox.base_url("mastodon"))
    finally:
        app.set_limits(max_characters=500, description_limit=1500)
    assert limits["max_characters"] == 1000 and limits["alt_text_max"] == 900


def test_configuration_errors_are_clear() -> None:
    assert REQUIRED_CREDENTIALS == (("access_token",),)
    with pytest.raises(ValueError, match="instance URL"):
        create_publisher({"access_token": "t"})
    with pytest.raises(ValueError, match="access_token"):
        create_publisher({}, base_url="https://example.social")


def test_tid_time_reads_the_queue_time() -> None:
    moment = time.time() - 123
    assert abs(tid_time(tid(moment)).timestamp() - moment) < 0.001  # type: ignore[union-attr]
    assert tid_time("hello") is None


# --- the sandbox agrees with Mastodon's OpenAPI description -----------------------------------------
def test_sandbox_answers_match_the_openapi_description(sandbox: Sandbox) -> None:
    schema_file = CONFORMANCE / "mastodon-openapi" / "schema.json"
    if not schema_file.exists():
        pytest.skip(f"Mastodon OpenAPI description not found at {schema_file} (shared/conformance is absent)")
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = json.loads(schema_file.read_text())
    registry = Registry().with_resource("urn:mastodon", Resource.from_contents(document, DRAFT202012))

    def check(name: str, answer: object) -> None:
        validator = Draft202012Validator({"$ref": f"urn:mastodon#/components/schemas/{name}"}, registry=registry)
        problems = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(answer)]
        assert problems == [], f"{name}: {problems}"

    import requests

    base = sandbox.base_url("mastodon")
    credentials = sandbox.credentials("mastodon", "schema_check")
    auth = {"Authorization": f"Bearer {credentials['access_token']}"}
    check("Instance", requests.get(f"{base}/api/v2/instance", timeout=5).json())
    check("V1Instance", requests.get(f"{base}/api/v1/instance", timeout=5).json())
    check("CredentialAccount", requests.get(f"{base}/api/v1/accounts/verify_credentials", headers=auth,
                                            timeout=5).json())
    media = requests.post(f"{base}/api/v2/media", headers=auth, data={"description": "teal"},
                          files={"file": ("x.jpg", jpeg(), "image/jpeg")}, timeout=5)
    check("MediaAttachment", media.json())
    status = requests.post(f"{base}/api/v1/statuses", headers=auth, timeout=5,
                           data={"status": "Schema #check", "media_ids[]": [media.json()["id"]], "language": "en"})
    check("Status", status.json())
    check("Error", requests.post(f"{base}/api/v1/statuses", timeout=5, data={"status": "x"}).json())

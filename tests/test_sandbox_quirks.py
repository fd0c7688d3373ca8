"""The sandbox's options that copy real servers (Takahē as a Mastodon-API server, the reference Bluesky PDS),
and the reads a client settles with, driven through the real client libraries (Mastodon.py, atproto) or plain
HTTP where the point is the raw answer."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from atproto_client import Client
from atproto_client.exceptions import RequestErrorBase
from mastodon import Mastodon, MastodonAPIError
from PIL import Image as PILImage

from scheduler.sandbox.bluesky import BLOB_UPLOAD_LIMIT_REFERENCE, BlueskyApp, sniff_mime_type
from scheduler.sandbox.core import Sandbox, default_platforms
from scheduler.sandbox.mastodon import FLAVORS, MastodonApp, MastodonLimits

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


# --- helpers -----------------------------------------------------------------------------------------

def picture(fmt: str = "JPEG", size: tuple[int, int] = (32, 24), *, noisy: bool = False) -> bytes:
    image = PILImage.effect_noise(size, 80).convert("RGB") if noisy else PILImage.new("RGB", size, "teal")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


class Instance:
    """A running Mastodon sandbox and a way to make accounts on it."""

    def __init__(self, sandbox: Sandbox, app: MastodonApp) -> None:
        self.sandbox, self.app = sandbox, app
        self.url = sandbox.base_url("mastodon")

    def account(self, name: str | None = None) -> tuple[Mastodon, str, str]:
        """(Mastodon.py client, token, handle) of a fresh account."""
        credentials = self.sandbox.credentials("mastodon", name or f"acct_{uuid.uuid4().hex[:8]}")
        client = Mastodon(access_token=credentials["access_token"], api_base_url=self.url,
                          version_check_mode="none", request_timeout=5)
        return client, credentials["access_token"], credentials["handle"]

    def get(self, path: str, token: str | None = None, **params: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(f"{self.url}{path}", headers=headers, params=params, timeout=5)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        return requests.post(f"{self.url}{path}", headers=headers, timeout=5, **kwargs)


@pytest.fixture
def mastodon_sandbox() -> Iterator[Callable[..., Instance]]:
    """``mastodon_sandbox(app)`` starts a sandbox with that Mastodon app (stopped after the test)."""
    running: list[Sandbox] = []

    def start(app: MastodonApp | None = None, **sandbox_options: Any) -> Instance:
        app = app or MastodonApp()
        sandbox = Sandbox([app], **sandbox_options).start()
        running.append(sandbox)
        return Instance(sandbox, app)

    yield start
    for sandbox in running:
        sandbox.stop()


def is_html(response: requests.Response) -> bool:
    return response.headers.get("Content-Type", "").startswith("text/html")


# --- Mastodon: the options and the Takahē preset -----------------------------------------------------

def test_the_takahe_preset_turns_every_option_on_and_single_options_override_it() -> None:
    takahe = MastodonApp.takahe_like()
    assert (takahe.ignore_idempotency_key, takahe.html_errors, takahe.rate_limit_headers,
            takahe.synchronous_media, takahe.move_attached_media) == (True, True, False, True, True)
    mastodon = MastodonApp()
    assert (mastodon.ignore_idempotency_key, mastodon.html_errors, mastodon.rate_limit_headers,
            mastodon.synchronous_media, mastodon.move_attached_media) == (False, False, True, False, False)
    assert MastodonApp(flavor="takahe", html_errors=False).html_errors is False
    assert MastodonApp.takahe_like(rate_limit_headers=True).ignore_idempotency_key is True
    assert set(FLAVORS) == {"mastodon", "takahe"}
    with pytest.raises(ValueError, match="unknown Mastodon sandbox flavor 'gotosocial'"):
        MastodonApp(flavor="gotosocial")
    apps = {app.name: app for app in default_platforms({"mastodon": {"flavor": "takahe"},
                                                        "bluesky": {"reference_pds": False}})}
    assert apps["mastodon"].ignore_idempotency_key and not apps["bluesky"].reference_pds  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown sandbox platforms: threads"):
        default_platforms({"threads": {}})


def test_ignoring_the_idempotency_key_makes_a_second_status(mastodon_sandbox: Callable[..., Instance]) -> None:
    for ignore, statuses in ((False, 1), (True, 2)):
        instance = mastodon_sandbox(MastodonApp(ignore_idempotency_key=ignore))
        client, _, handle = instance.account()
        first = client.status_post("Storm time #ClimateStrike", idempotency_key="key-1")
        second = client.status_post("Storm time #ClimateStrike", idempotency_key="key-1")
        assert (first["id"] == second["id"]) is (statuses == 1)
        held = [post for post in instance.sandbox.posts("mastodon") if post.account == handle]
        assert len(held) == statuses and {post.idempotency_key for post in held} == {"key-1"}
        me = client.account_verify_credentials()
        assert len(client.account_statuses(me["id"])) == statuses


def test_bad_and_revoked_tokens_are_answered_like_takahe(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox(MastodonApp(html_errors=True))
    _, token, handle = instance.account()
    bad = instance.post("/api/v1/statuses", "not-a-token", data={"status": "hello"})
    assert (bad.status_code, bad.text) == (400, "Invalid Bearer token") and is_html(bad)
    with pytest.raises(MastodonAPIError) as refused:  # what the client library makes of it
        Mastodon(access_token="not-a-token", api_base_url=instance.url, version_check_mode="none").status_post("x")
    assert "400" in str(refused.value)

    missing = instance.post("/api/v1/statuses", data={"status": "hello"})
    assert (missing.status_code, missing.json()) == (401, {"error": "identity_token_required"})

    assert instance.get("/api/v1/accounts/verify_credentials", token).status_code == 200
    instance.app.revoke_token(handle)
    revoked = instance.get("/api/v1/accounts/verify_credentials", token)
    assert (revoked.status_code, revoked.text) == (400, "Invalid Bearer token") and is_html(revoked)
    fresh = instance.sandbox.credentials("mastodon", handle)["access_token"]
    assert fresh != token and instance.get("/api/v1/accounts/verify_credentials", fresh).status_code == 200


def test_bad_and_revoked_tokens_on_mastodon_are_401_json(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox()
    _, token, handle = instance.account()
    bad = instance.post("/api/v1/statuses", "not-a-token", data={"status": "hello"})
    assert (bad.status_code, bad.json()) == (401, {"error": "The access token is invalid"})
    instance.app.revoke_token(handle)
    revoked = instance.get("/api/v1/accounts/verify_credentials", token)
    assert (revoked.status_code, revoked.json()) == (401, {"error": "The access token was revoked"})


def test_validation_and_lookup_errors_are_answered_like_takahe(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox(MastodonApp(MastodonLimits(max_characters=20), html_errors=True))
    client, token, _ = instance.account()

    too_long = instance.post("/api/v1/statuses", token, data={"status": "x" * 21})
    assert (too_long.status_code, too_long.json()) == (400, {"error": "Status is too long"})
    empty = instance.post("/api/v1/statuses", token, data={"status": ""})
    assert (empty.status_code, empty.json()) == (400, {"error": "Status is empty"})
    with pytest.raises(MastodonAPIError, match="Status is too long"):
        client.status_post("y" * 21)

    unknown_media = instance.post("/api/v1/statuses", token, data={"status": "hi", "media_ids[]": ["12345"]})
    assert unknown_media.status_code == 404 and is_html(unknown_media) and "Page Not Found" in unknown_media.text
    for path in ("/api/v1/statuses/12345", "/api/v1/media/12345"):
        answer = instance.get(path, token)
        assert answer.status_code == 404 and is_html(answer) and "<h1>Page Not Found</h1>" in answer.text

    no_file = instance.post("/api/v2/media", token, data={"description": "nothing"})
    assert no_file.status_code == 500 and is_html(no_file) and "Internal Server Error" in no_file.text
    not_image = instance.post("/api/v2/media", token, files={"file": ("notes.txt", b"just text", "text/plain")})
    assert not_image.status_code == 500 and is_html(not_image)


def test_validation_and_lookup_errors_on_mastodon_are_json(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox(MastodonApp(MastodonLimits(max_characters=20)))
    _, token, _ = instance.account()
    too_long = instance.post("/api/v1/statuses", token, data={"status": "x" * 21})
    assert too_long.status_code == 422 and "character limit of 20" in too_long.json()["error"]
    unknown_media = instance.post("/api/v1/statuses", token, data={"status": "hi", "media_ids[]": ["12345"]})
    assert unknown_media.status_code == 422 and "12345" in unknown_media.json()["error"]
    assert instance.get("/api/v1/statuses/12345", token).json() == {"error": "Record not found"}
    assert instance.post("/api/v2/media", token, data={"description": "nothing"}).status_code == 422


def test_without_rate_limit_headers_nothing_is_limited(mastodon_sandbox: Callable[..., Instance]) -> None:
    small = MastodonLimits(statuses=2, api_requests=3)
    limited = mastodon_sandbox(MastodonApp(small))
    _, token, _ = limited.account()
    answers = [limited.post("/api/v1/statuses", token, data={"status": f"post {n}"}) for n in range(3)]
    assert "X-RateLimit-Remaining" in answers[0].headers and answers[-1].status_code == 429

    unlimited = mastodon_sandbox(MastodonApp(small, rate_limit_headers=False))
    client, token, _ = unlimited.account()
    answers = [unlimited.post("/api/v1/statuses", token, data={"status": f"post {n}"}) for n in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 5
    assert not any(name.lower().startswith("x-ratelimit") for answer in answers for name in answer.headers)
    assert client.ratelimit_remaining == 300  # Mastodon.py saw no header, keeps its own default
    client.status_post("through the library")

    unlimited.sandbox.faults.rate_limit_rate = 1  # a proxy in front may still say 429: without the headers
    injected = unlimited.post("/api/v1/statuses", token, data={"status": "one more"})
    assert injected.status_code == 429 and "X-RateLimit-Reset" not in injected.headers


def test_synchronous_media_is_ready_at_once(mastodon_sandbox: Callable[..., Instance]) -> None:
    big = picture(size=(400, 300), noisy=True)
    for synchronous, status in ((False, 202), (True, 200)):
        instance = mastodon_sandbox(MastodonApp(async_media_threshold=1024, synchronous_media=synchronous))
        client, token, _ = instance.account()
        assert len(big) > instance.app.async_media_threshold
        answer = instance.post("/api/v2/media", token, files={"file": ("big.jpg", big, "image/jpeg")})
        assert answer.status_code == status and (answer.json()["url"] is not None) is synchronous
        media = client.media_post(big, mime_type="image/jpeg", description="noise", synchronous=False)
        assert (media["url"] is not None) is synchronous


def test_an_attached_media_id_moves_to_the_new_status(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox(MastodonApp(move_attached_media=True))
    client, _, _ = instance.account()
    media = client.media_post(picture(), mime_type="image/jpeg", description="a teal square")
    first = client.status_post("first copy", media_ids=[media["id"]])
    second = client.status_post("second copy", media_ids=[media["id"]])
    assert [m["id"] for m in second["media_attachments"]] == [media["id"]]
    assert client.status(first["id"])["media_attachments"] == []  # the first copy lost its image

    mastodon = mastodon_sandbox()
    client, _, _ = mastodon.account()
    media = client.media_post(picture(), mime_type="image/jpeg", description="a teal square")
    client.status_post("first copy", media_ids=[media["id"]])
    with pytest.raises(MastodonAPIError, match="already attached"):
        client.status_post("second copy", media_ids=[media["id"]])


# --- Mastodon: reading what the server holds ---------------------------------------------------------

class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_verify_credentials_and_account_give_the_account_id(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox()
    client, _, handle = instance.account()
    me = client.account_verify_credentials()
    assert me["username"] == handle and str(me["id"]).isdigit()
    assert client.account(me["id"])["username"] == handle
    assert instance.get(f"/api/v1/accounts/{me['id']}").json()["id"] == str(me["id"])  # public, without a token
    assert instance.get("/api/v1/accounts/999").status_code == 404


def test_account_statuses_page_newest_first_with_link_headers(mastodon_sandbox: Callable[..., Instance]) -> None:
    clock = Clock(1_800_000_000.5)
    instance = mastodon_sandbox(clock=clock)
    client, token, _ = instance.account()
    made = []
    for number in range(7):
        clock.now += 1
        made.append(client.status_post(f"status {number}")["id"])
    account_id = client.account_verify_credentials()["id"]

    page = client.account_statuses(account_id, limit=3)
    assert [status["id"] for status in page] == made[::-1][:3]
    seen = list(page)
    while (page := client.fetch_next(page)) is not None and page:
        seen += page
    assert [status["id"] for status in seen] == made[::-1]

    raw = instance.get(f"/api/v1/accounts/{account_id}/statuses", token, limit=3)
    base = f"{instance.url}/api/v1/accounts/{account_id}/statuses"
    assert raw.headers["Link"] == (f'<{base}?limit=3&max_id={made[4]}>; rel="next", '
                                   f'<{base}?limit=3&min_id={made[6]}>; rel="prev"')
    last = instance.get(f"/api/v1/accounts/{account_id}/statuses", token, limit=3, max_id=made[1])
    assert [s["id"] for s in last.json()] == [str(made[0])] and 'rel="next"' not in last.headers["Link"]
    assert "Link" not in instance.get(f"/api/v1/accounts/{account_id}/statuses", token, max_id=made[0]).headers

    # since_id: the newest ones above it; min_id: the ones just above it (both newest first)
    since = client.account_statuses(account_id, since_id=made[1], limit=2)
    assert [s["id"] for s in since] == [made[6], made[5]]
    after = client.account_statuses(account_id, min_id=made[1], limit=2)
    assert [s["id"] for s in after] == [made[3], made[2]]
    assert [s["id"] for s in client.fetch_previous(after)] == [made[5], made[4]]
    # ids are snowflakes of created_at, so Mastodon.py may page from a time (whole seconds), as on Mastodon
    moment = datetime.fromtimestamp(1_800_000_005, timezone.utc)
    assert [s["id"] for s in client.account_statuses(account_id, min_id=moment)] == made[:3:-1]
    # created_at is the sandbox's clock, in Mastodon's form
    assert raw.json()[0]["created_at"] == "2027-01-15T08:00:07.500Z"


def test_account_statuses_limit_defaults_to_20_and_stops_at_40(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox()
    _, token, _ = instance.account()
    for number in range(45):
        assert instance.post("/api/v1/statuses", token, data={"status": f"status {number}"}).status_code == 200
    account_id = instance.get("/api/v1/accounts/verify_credentials", token).json()["id"]
    path = f"/api/v1/accounts/{account_id}/statuses"
    assert len(instance.get(path, token).json()) == 20
    assert len(instance.get(path, token, limit=100).json()) == 40
    assert "?limit=100&max_id=" in instance.get(path, token, limit=100).headers["Link"]  # kept as given


def test_account_statuses_filters_and_who_sees_what(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox()
    client, token, _ = instance.account()
    other, _, _ = instance.account()
    plain = client.status_post("plain #Storm")
    thread = client.status_post("second in the thread", in_reply_to_id=plain["id"])
    reply_to_other = client.status_post("a reply to someone else", in_reply_to_id=other.status_post("hi")["id"])
    media = client.media_post(picture(), mime_type="image/jpeg", description="teal")
    with_image = client.status_post("with an image", media_ids=[media["id"]])
    private = client.status_post("only followers", visibility="private")
    account_id = client.account_verify_credentials()["id"]

    def ids(**params: Any) -> list[str]:
        return [str(status["id"]) for status in client.account_statuses(account_id, **params)]

    everything = [str(s["id"]) for s in (private, with_image, reply_to_other, thread, plain)]
    assert ids() == everything
    assert ids(only_media=True) == [str(with_image["id"])]
    assert ids(exclude_replies=True) == [str(s["id"]) for s in (private, with_image, thread, plain)]
    assert ids(tagged="storm") == [str(plain["id"])]
    assert ids(pinned=True) == []
    anonymous = instance.get(f"/api/v1/accounts/{account_id}/statuses").json()
    assert [s["id"] for s in anonymous] == everything[1:]  # no token: public statuses only
    assert instance.get(f"/api/v1/statuses/{private['id']}").status_code == 404
    assert instance.get(f"/api/v1/statuses/{private['id']}", token).status_code == 200


def test_statuses_are_mastodons_status_entity(mastodon_sandbox: Callable[..., Instance]) -> None:
    instance = mastodon_sandbox()
    client, token, handle = instance.account("organiser")
    text = ("Storm at 6 pm! #FreePalestinianStudents <b>now</b>\nRead https://example.org/a/long/path/to/the/"
            "statement?lang=en & share\n\nThanks @organiser")
    media = client.media_post(picture(), mime_type="image/jpeg", description="a teal square")
    parent = client.status_post("the thread starts")
    posted = instance.post("/api/v1/statuses", token, data={"status": text, "media_ids[]": [media["id"]],
                                                           "in_reply_to_id": parent["id"], "language": "ar"}).json()
    listed = instance.get(f"/api/v1/accounts/{posted['account']['id']}/statuses", token).json()[0]
    single = instance.get(f"/api/v1/statuses/{posted['id']}", token).json()
    assert listed == single == posted

    url = instance.url
    assert single["content"] == (
        f'<p>Storm at 6 pm! <a href="{url}/tags/FreePalestinianStudents" class="mention hashtag" rel="tag">'
        '#<span>FreePalestinianStudents</span></a> &lt;b&gt;now&lt;/b&gt;<br />Read '
        '<a href="https://example.org/a/long/path/to/the/statement?lang=en" target="_blank" '
        'rel="nofollow noopener noreferrer" translate="no"><span class="invisible">https://</span>'
        '<span class="ellipsis">example.org/a/long/path/to/the</span><span class="invisible">/statement?lang=en'
        '</span></a> &amp; share</p><p>Thanks <span class="h-card" translate="no">'
        f'<a href="{url}/@{handle}" class="u-url mention">@<span>{handle}</span></a></span></p>')
    assert single["in_reply_to_id"] == str(parent["id"]) and single["language"] == "ar"
    assert single["visibility"] == "public" and single["url"] == f"{url}/@{handle}/{single['id']}"
    [attachment] = single["media_attachments"]
    assert attachment["id"] == str(media["id"]) and attachment["type"] == "image"
    assert attachment["description"] == "a teal square" and attachment["url"].startswith(url)
    assert single["tags"] == [{"name": "FreePalestinianStudents", "url": f"{url}/tags/freepalestinianstudents"}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", single["created_at"])
    assert single["account"]["statuses_count"] == 2

    schema_file = CONFORMANCE / "mastodon-openapi" / "schema.json"
    if not schema_file.exists():
        pytest.skip(f"Mastodon OpenAPI description not found at {schema_file} (shared/conformance is absent)")
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource(
        "urn:mastodon", Resource.from_contents(json.loads(schema_file.read_text()), DRAFT202012))
    for name, answer in (("Status", single), ("Account", single["account"])):
        validator = Draft202012Validator({"$ref": f"urn:mastodon#/components/schemas/{name}"}, registry=registry)
        assert [error.message for error in validator.iter_errors(answer)] == []


# --- Bluesky: the reference PDS ----------------------------------------------------------------------

class Pds:
    """A running sandbox PDS, an account logged in with atproto, and raw XRPC calls for that account."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.app: BlueskyApp = sandbox.app("bluesky")  # type: ignore[assignment]
        self.url = sandbox.base_url("bluesky")
        credentials = sandbox.credentials("bluesky", f"account-{uuid.uuid4().hex[:6]}")
        self.client = Client(base_url=self.url)
        self.client.login(credentials["handle"], credentials["app_password"], fetch_bsky_profile=False)
        session = requests.post(f"{self.url}/xrpc/com.atproto.server.createSession", timeout=5, json={
            "identifier": credentials["handle"], "password": credentials["app_password"]}).json()
        self.did, self.token = session["did"], session["accessJwt"]

    def upload(self, data: bytes, content_type: str | None = None, *, token: bool = True) -> requests.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        if token:
            headers["Authorization"] = f"Bearer {self.token}"
        return requests.post(f"{self.url}/xrpc/com.atproto.repo.uploadBlob", data=data, headers=headers, timeout=10)

    def describe(self) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(f"{self.url}/xrpc/com.atproto.server.describeServer", timeout=5).json()
        return answer

    def post_with_image(self, blob: Any) -> Any:
        return self.client.com.atproto.repo.create_record({
            "repo": self.did, "collection": "app.bsky.feed.post",
            "record": {"$type": "app.bsky.feed.post", "text": "big picture", "createdAt": "2027-04-17T09:00:00.000Z",
                       "embed": {"$type": "app.bsky.embed.images",
                                 "images": [{"alt": "noise", "image": blob.model_dump(by_alias=True)}]}}})


@pytest.fixture
def pds() -> Iterator[Callable[..., Pds]]:
    """``pds(**options)`` starts a sandbox PDS made with ``BlueskyApp(**options)``."""
    running: list[Sandbox] = []

    def start(**options: Any) -> Pds:
        sandbox = Sandbox([BlueskyApp(**options)]).start()
        running.append(sandbox)
        return Pds(sandbox)

    yield start
    for sandbox in running:
        sandbox.stop()


def refusal(call: Callable[[], object]) -> tuple[int, str, str]:
    """(HTTP status, XRPC error, message) of a call the PDS refuses, as atproto reports it."""
    with pytest.raises(RequestErrorBase) as refused:
        call()
    response = refused.value.response
    assert response is not None
    content: Any = response.content
    return response.status_code, content.error, content.message


def test_blobs_up_to_5_mib_are_taken_and_larger_is_payload_too_large(pds: Callable[..., Pds]) -> None:
    server = pds()
    client, limit = server.client, BLOB_UPLOAD_LIMIT_REFERENCE
    assert limit == 5_242_880 and server.app.blob_upload_limit == limit
    assert client.upload_blob(b"\xff\xd8\xff" + bytes(limit - 4)).blob.size == limit - 1
    assert client.upload_blob(b"\xff\xd8\xff" + bytes(limit - 3)).blob.size == limit
    assert refusal(lambda: client.upload_blob(bytes(limit + 1))) == (413, "PayloadTooLarge", "request entity too large")

    big = client.upload_blob(b"\xff\xd8\xff" + bytes(1_500_000)).blob  # over 1,000,000: no size check at write
    assert server.post_with_image(big).uri.startswith("at://")
    assert server.sandbox.posts("bluesky")[0].media[0].size == 1_500_003

    smaller = pds(blob_upload_limit=1_000_000)
    assert refusal(lambda: smaller.client.upload_blob(bytes(1_000_001)))[:2] == (413, "PayloadTooLarge")
    assert smaller.upload(bytes(1_000_000)).status_code == 200


def test_an_older_pds_answers_blob_too_large_at_upload_and_at_write(pds: Callable[..., Pds]) -> None:
    older = pds(reference_pds=False)
    assert older.app.blob_upload_limit == 1_000_000
    status, error, message = refusal(lambda: older.client.upload_blob(bytes(1_500_000)))
    assert (status, error) == (400, "BlobTooLarge") and "maximum size is 976.56KB" in message

    raised = pds(reference_pds=False, blob_upload_limit=2_000_000)
    big = raised.client.upload_blob(b"\xff\xd8\xff" + bytes(1_500_000)).blob
    raised.app.blob_upload_limit = 1_000_000
    status, error, message = refusal(lambda: raised.post_with_image(big))
    assert (status, error) == (400, "BlobTooLarge") and "It is 1.43MB" in message


def test_upload_blob_detects_the_mime_type_from_the_bytes(pds: Callable[..., Pds]) -> None:
    server = pds()
    images = {"image/png": picture("PNG"), "image/gif": picture("GIF"), "image/webp": picture("WEBP"),
              "image/jpeg": picture("JPEG")}
    for mime_type, data in images.items():
        assert sniff_mime_type(data) == mime_type
        assert server.client.upload_blob(data).blob.mime_type == mime_type  # atproto sends no image type
        lying = "image/png" if mime_type == "image/jpeg" else "image/jpeg"
        assert server.upload(data, lying).json()["blob"]["mimeType"] == mime_type
    assert server.upload(b"plain words", "text/plain").json()["blob"]["mimeType"] == "text/plain"  # bytes say nothing

    trusting = pds(reference_pds=False)
    assert trusting.upload(images["image/png"], "image/jpeg").json()["blob"]["mimeType"] == "image/jpeg"


def test_describe_server_and_a_missing_token_as_the_reference(pds: Callable[..., Pds]) -> None:
    server = pds()
    described = server.client.com.atproto.server.describe_server()
    assert described.blob_upload_limit == BLOB_UPLOAD_LIMIT_REFERENCE and described.did.startswith("did:web:")
    assert described.available_user_domains == [".test"] and described.invite_code_required is False
    assert list(server.describe()) == ["did", "availableUserDomains", "inviteCodeRequired", "blobUploadLimit",
                                       "links", "contact"]
    missing = server.upload(b"x", token=False)
    assert (missing.status_code, missing.json()["error"]) == (401, "AuthMissing")

    older = pds(reference_pds=False, blob_upload_limit=2_000_000)
    assert "blobUploadLimit" not in older.describe()
    assert older.upload(b"x", token=False).json()["error"] == "AuthenticationRequired"


def test_the_sandbox_command_takes_a_flavor_and_names_the_known_ones(tmp_path: Path) -> None:
    from project import StormProject

    from scheduler import service

    running = service.start_sandbox(flavors={"mastodon": "takahe"}, ports={})
    try:
        answer = requests.post(f"{running.base_url('mastodon')}/api/v1/statuses", data={"status": "hi"},
                               headers={"Authorization": "Bearer wrong"}, timeout=5)
        assert answer.status_code == 400 and answer.headers["Content-Type"].startswith("text/html")
    finally:
        running.stop()
    output = StormProject.create(tmp_path).fails("sandbox", "--flavor", "mastodon", "gotosocial")
    assert output.strip() == "error: --flavor: unknown Mastodon sandbox flavor 'gotosocial'; known: mastodon, takahe"

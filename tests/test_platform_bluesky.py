"""Bluesky: the publisher through the real atproto SDK and real HTTP to the sandbox PDS."""

from __future__ import annotations

import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import httpx
import jsonschema
import pytest
from atproto_client import Client, Session, models
from atproto_client.exceptions import BadRequestError, RequestException
from PIL import Image as PILImage

from driving import DrivenClock
from project import StormProject
from scheduler import service
from scheduler.platforms.base import (
    Image,
    OutcomeUnknown,
    OutgoingPost,
    RateLimited,
    Rejected,
    ReplyTarget,
    RetryLater,
)
from scheduler.platforms.bluesky.facts import CREDENTIAL_SETS as REQUIRED_CREDENTIALS
from scheduler.platforms.bluesky.facts import IMAGE_DEFAULT_MAX_BYTES
from scheduler.platforms.bluesky.publisher import BlueskyPublisher, create_publisher, parse_reply_ref
from scheduler.platforms.registry import platform
from scheduler.tid import is_tid, new_tid
from scheduler.sandbox.bluesky import BLOB_LIMIT_RAISED, BLOB_UPLOAD_LIMIT_REFERENCE, BlueskyApp
from scheduler.sandbox.core import Faults, Sandbox

LEXICONS = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "bluesky-lexicons"
PEERS = Path(__file__).resolve().parents[1] / ".ci" / "peers"
TIMEOUT = 0.5  # publisher timeout in fault tests; the sandbox holds answers longer than this


# --- fixtures and helpers ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([BlueskyApp()], seed=1) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sandbox: Sandbox) -> Iterator[None]:
    sandbox.faults = Faults()
    sandbox.clear()
    yield
    sandbox.faults = Faults()


_account_numbers = iter(range(1_000_000))


def publisher_for(sandbox: Sandbox, *, timeout: float = 5.0, account: str | None = None) -> BlueskyPublisher:
    account_id = account or f"account-{next(_account_numbers)}"
    return create_publisher(sandbox.credentials("bluesky", account_id), base_url=sandbox.base_url("bluesky"),
                            timeout=timeout)


def post(text: str = "Storm time #ClimateStrike", **fields: Any) -> OutgoingPost:
    return OutgoingPost(key=f"post-{new_tid()}", idempotency_key=fields.pop("idempotency_key", new_tid()),
                        text=text, **fields)


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), exif: bool = False) -> bytes:
    picture = PILImage.new("RGB", size, (200, 30, 30))
    buffer = io.BytesIO()
    if exif:
        tags = PILImage.Exif()
        tags[0x010F] = "PhoneMaker"  # Make
        picture.save(buffer, fmt, exif=tags.tobytes())
    else:
        picture.save(buffer, fmt)
    return buffer.getvalue()


def session_calls(sandbox: Sandbox, method: str) -> int:
    return sum(1 for _, _, path, _ in sandbox.requests("bluesky") if path == f"/xrpc/com.atproto.server.{method}")


# --- publishing -------------------------------------------------------------------------------------

def test_text_post_with_language_and_facets(sandbox: Sandbox) -> None:
    text = "Zeit für den Sturm 🌪️ #KlimaStreik jetzt: https://example.org/aufruf"
    publisher = publisher_for(sandbox)
    outgoing = post(text, lang="de")

    published = publisher.publish(outgoing)

    [accepted] = sandbox.posts("bluesky")
    rkey = outgoing.idempotency_key
    assert published.platform_id == accepted.post_id == f"at://{accepted.post_id.split('/')[2]}/app.bsky.feed.post/{rkey}"
    assert published.url == f"https://bsky.app/profile/{accepted.account}/post/{rkey}"
    assert parse_reply_ref(published.reply_ref).uri == published.platform_id
    assert accepted.text == text and accepted.lang == "de" and accepted.idempotency_key == rkey
    encoded = text.encode("utf-8")
    spans = {encoded[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(): f["features"][0]
             for f in accepted.extra["facets"]}
    assert spans["#KlimaStreik"] == {"$type": "app.bsky.richtext.facet#tag", "tag": "KlimaStreik"}
    assert spans["https://example.org/aufruf"]["uri"] == "https://example.org/aufruf"


def test_images_with_alt_text_and_aspect_ratio(sandbox: Sandbox) -> None:
    images = (Image(image_bytes("JPEG", (64, 48)), "image/jpeg", "A crowd with banners", 64, 48, "crowd.jpg"),
              Image(image_bytes("PNG", (30, 90)), "image/png", "", 30, 90, "map.png"))
    publisher_for(sandbox).publish(post("Two pictures", images=images))

    [accepted] = sandbox.posts("bluesky")
    assert [(m.alt, m.mime_type, m.width, m.height, m.has_exif) for m in accepted.media] == [
        ("A crowd with banners", "image/jpeg", 64, 48, False), ("", "image/png", 30, 90, False)]
    embedded = accepted.extra["record"]["embed"]["images"]
    assert [e["aspectRatio"] for e in embedded] == [{"width": 64, "height": 48}, {"width": 30, "height": 90}]
    assert accepted.media[0].data == images[0].data


def test_sandbox_reports_exif_left_in_an_image(sandbox: Sandbox) -> None:
    with_exif = Image(image_bytes("JPEG", exif=True), "image/jpeg", "photo", 64, 48)
    publisher_for(sandbox).publish(post("leaky photo", images=(with_exif,)))
    assert sandbox.posts("bluesky")[0].media[0].has_exif is True


def test_thread_of_replies(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox)
    first = publisher.publish(post("1/3 #Storm"))
    second = publisher.publish(post("2/3", reply_to=ReplyTarget(parent=first.reply_ref, root=first.reply_ref)))
    third = publisher.publish(post("3/3", reply_to=ReplyTarget(parent=second.reply_ref, root=first.reply_ref)))

    records = {p.post_id: p.extra["record"] for p in sandbox.posts("bluesky")}
    assert "reply" not in records[first.platform_id]
    assert records[third.platform_id]["reply"] == {"root": json.loads(first.reply_ref),
                                                   "parent": json.loads(second.reply_ref)}
    assert records[second.platform_id]["reply"]["parent"]["cid"] == json.loads(first.reply_ref)["cid"]


def test_posts_from_many_threads_share_one_session(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox)
    outgoing = [post(f"parallel {n} #Storm") for n in range(16)]
    logins_before = session_calls(sandbox, "createSession")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(publisher.publish, outgoing))

    assert len({r.platform_id for r in results}) == 16
    assert len(sandbox.posts("bluesky")) == 16
    assert session_calls(sandbox, "createSession") - logins_before == 1 and publisher.logins == 1


# --- the record against the lexicon and the sandbox's answers against theirs -------------------------

def lexicon_schema(ref: str) -> dict[str, Any]:
    """A JSON Schema for a lexicon definition ("nsid" or "nsid#def"), for the types a post uses.
    String lengths are left out (lexicon counts UTF-8 bytes and graphemes; checked elsewhere)."""
    nsid, _, name = ref.partition("#")
    document = json.loads((LEXICONS / (nsid.replace(".", "/") + ".json")).read_text())
    return _schema_of(document["defs"][name or "main"], nsid)


def _schema_of(definition: dict[str, Any], nsid: str) -> dict[str, Any]:
    kind = definition["type"]
    if kind == "record":
        return _schema_of(definition["record"], nsid)
    if kind == "object":
        nullable = set(definition.get("nullable", []))
        properties = {}
        for key, value in definition.get("properties", {}).items():
            schema = _schema_of(value, nsid)
            properties[key] = {"anyOf": [schema, {"type": "null"}]} if key in nullable else schema
        return {"type": "object", "required": definition.get("required", []), "properties": properties}
    if kind == "ref":
        target = definition["ref"]
        return lexicon_schema(nsid + target if target.startswith("#") else target)
    if kind == "union":
        options = []
        for target in definition["refs"]:
            full = nsid + target if target.startswith("#") else target
            type_name = full.removesuffix("#main")
            if (LEXICONS / (full.partition("#")[0].replace(".", "/") + ".json")).exists():
                options.append({"allOf": [lexicon_schema(full), {"required": ["$type"],
                                                                 "properties": {"$type": {"const": type_name}}}]})
        # unions are open: an object of another $type passes (one listed here must match its schema,
        # unless its lexicon is not in the conformance folder)
        present = [o["allOf"][1]["properties"]["$type"]["const"] for o in options]
        other = {"type": "object", "required": ["$type"], "properties": {"$type": {"not": {"enum": present}}}}
        return {"anyOf": options + [other]} if present else other
    if kind == "array":
        schema = {"type": "array", "items": _schema_of(definition["items"], nsid)}
        if "maxLength" in definition:
            schema["maxItems"] = definition["maxLength"]
        return schema
    if kind == "blob":
        return {"type": "object", "required": ["$type", "ref", "mimeType", "size"],
                "properties": {"$type": {"const": "blob"}, "ref": {"type": "object", "required": ["$link"]},
                               "mimeType": {"type": "string"}, "size": {"type": "integer"}}}
    if kind == "integer":
        return {"type": "integer", **({"minimum": definition["minimum"]} if "minimum" in definition else {})}
    if kind in {"string", "boolean"}:
        return {"type": kind}
    return {}  # unknown


def procedure_output_schema(nsid: str) -> dict[str, Any]:
    document = json.loads((LEXICONS / (nsid.replace(".", "/") + ".json")).read_text())
    return _schema_of(document["defs"]["main"]["output"]["schema"], nsid)


@pytest.fixture
def lexicons() -> Path:
    if not LEXICONS.is_dir():
        pytest.skip(f"Bluesky lexicons not found at {LEXICONS} (../shared/conformance is outside the repo)")
    return LEXICONS


def test_published_record_matches_the_post_lexicon(sandbox: Sandbox, lexicons: Path) -> None:
    publisher = publisher_for(sandbox)
    first = publisher.publish(post("root #Storm https://example.org", lang="en"))
    picture = Image(image_bytes(), "image/jpeg", "alt text", 64, 48)
    publisher.publish(post("reply with picture", lang="en", images=(picture,),
                           reply_to=ReplyTarget(parent=first.reply_ref, root=first.reply_ref)))

    schema = lexicon_schema("app.bsky.feed.post")
    for accepted in sandbox.posts("bluesky"):
        record = accepted.extra["record"]
        jsonschema.validate(record, schema)
        assert record["$type"] == "app.bsky.feed.post"
        datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00"))


def test_sandbox_answers_match_the_lexicons(sandbox: Sandbox, lexicons: Path) -> None:
    credentials = sandbox.credentials("bluesky", "schema-check")
    base = sandbox.base_url("bluesky") + "/xrpc/"
    with httpx.Client() as http:
        session = http.post(base + "com.atproto.server.createSession",
                            json={"identifier": credentials["handle"], "password": credentials["app_password"]}).json()
        jsonschema.validate(session, procedure_output_schema("com.atproto.server.createSession"))
        auth = {"Authorization": f"Bearer {session['accessJwt']}"}
        blob = http.post(base + "com.atproto.repo.uploadBlob", content=image_bytes(),
                         headers={**auth, "Content-Type": "image/jpeg"}).json()
        jsonschema.validate(blob, procedure_output_schema("com.atproto.repo.uploadBlob"))
        rkey = new_tid()
        record = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-05-01T12:00:00.000Z"}
        written = http.post(base + "com.atproto.repo.putRecord", headers=auth, json={
            "repo": session["did"], "collection": "app.bsky.feed.post", "rkey": rkey, "record": record,
            "swapRecord": None}).json()
        jsonschema.validate(written, procedure_output_schema("com.atproto.repo.putRecord"))
        fetched = http.get(base + "com.atproto.repo.getRecord",
                           params={"repo": session["did"], "collection": "app.bsky.feed.post", "rkey": rkey}).json()
        jsonschema.validate(fetched, procedure_output_schema("com.atproto.repo.getRecord"))
        refreshed = http.post(base + "com.atproto.server.refreshSession",
                              headers={"Authorization": f"Bearer {session['refreshJwt']}"}).json()
        jsonschema.validate(refreshed, procedure_output_schema("com.atproto.server.refreshSession"))
    assert fetched["value"] == record and fetched["cid"] == written["cid"]


# --- the reference PDS's record-key behaviour, through the SDK's own calls ---------------------------

def test_sandbox_record_key_rules_match_the_reference_pds(sandbox: Sandbox) -> None:
    credentials = sandbox.credentials("bluesky", "rkey-rules")
    client = Client(base_url=sandbox.base_url("bluesky"))
    client.login(credentials["handle"], credentials["app_password"], fetch_bsky_profile=False)
    session = Session.decode(client.export_session_string())
    did, auth = session.did, {"Authorization": f"Bearer {session.access_jwt}"}
    publisher = create_publisher(credentials, base_url=sandbox.base_url("bluesky"))
    publisher.warm()
    assert publisher.service_url == sandbox.base_url("bluesky") + "/xrpc"  # the DID document kept us here
    publisher.close()

    def record(text: str) -> models.AppBskyFeedPost.Record:
        return models.AppBskyFeedPost.Record(text=text, created_at="2026-05-01T12:00:00.000Z")

    rkey = new_tid()
    data = {"repo": did, "collection": "app.bsky.feed.post", "rkey": rkey}
    client.com.atproto.repo.create_record({**data, "record": record("first")})
    with pytest.raises(RequestException) as taken:  # createRecord on a taken key: the reference's bare 500
        client.com.atproto.repo.create_record({**data, "record": record("second")})
    assert taken.value.response.status_code == 500
    # the SDK drops swap_record=None, so put_record overwrites (what the publisher must not rely on)
    overwritten = client.com.atproto.repo.put_record({**data, "record": record("overwritten"), "swap_record": None})
    assert overwritten.commit is not None
    assert client.com.atproto.repo.get_record({**data}).value.text == "overwritten"

    def raw_put(text: str) -> httpx.Response:
        body = {**data, "record": record(text).model_dump(by_alias=True, exclude_none=True), "swapRecord": None}
        return httpx.post(sandbox.base_url("bluesky") + "/xrpc/com.atproto.repo.putRecord", json=body,
                          headers=auth)

    same = raw_put("overwritten")
    assert same.status_code == 200 and "commit" not in same.json()  # identical: nothing written
    different = raw_put("something else")
    assert different.status_code == 400
    assert different.json() == {"error": "InvalidSwap", "message": f"Record was at {same.json()['cid']}"}
    fresh = {**data, "rkey": new_tid()}
    created = httpx.post(sandbox.base_url("bluesky") + "/xrpc/com.atproto.repo.putRecord",
                         json={**fresh, "record": {"$type": "app.bsky.feed.post", "text": "new",
                                                   "createdAt": "2026-05-01T12:00:00Z"}, "swapRecord": None},
                         headers=auth)
    assert created.status_code == 200 and "commit" in created.json()
    with pytest.raises(BadRequestError) as missing:
        client.com.atproto.repo.get_record({**data, "rkey": new_tid()})
    assert missing.value.response.content.error == "RecordNotFound"


def test_sandbox_requires_alt_in_the_images_embed(sandbox: Sandbox) -> None:
    credentials = sandbox.credentials("bluesky", "alt-rule")
    base = sandbox.base_url("bluesky") + "/xrpc/"
    session = httpx.post(base + "com.atproto.server.createSession",
                         json={"identifier": credentials["handle"], "password": credentials["app_password"]}).json()
    auth = {"Authorization": f"Bearer {session['accessJwt']}"}
    blob = httpx.post(base + "com.atproto.repo.uploadBlob", content=image_bytes(),
                      headers={**auth, "Content-Type": "image/jpeg"}).json()["blob"]
    answer = httpx.post(base + "com.atproto.repo.createRecord", headers=auth, json={
        "repo": session["did"], "collection": "app.bsky.feed.post",
        "record": {"text": "no alt", "createdAt": "2026-05-01T12:00:00Z",
                   "embed": {"$type": "app.bsky.embed.images", "images": [{"image": blob}]}}})
    assert answer.status_code == 400
    assert answer.json()["message"] == ('Invalid app.bsky.feed.post record: '
                                        'Record/embed/images/0 must have the property "alt"')


# --- idempotency: the record key ---------------------------------------------------------------------

def test_retry_after_unknown_outcome_does_not_create_a_second_post(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox, timeout=TIMEOUT)
    publisher.warm()  # log in before the faults (createSession is not a write anyway)
    outgoing = post("accepted, answer lost #Storm")
    sandbox.faults.update(accept_then_timeout_rate=1, hold_seconds=1.5)

    with pytest.raises(OutcomeUnknown, match="may exist"):
        publisher.publish(outgoing)

    sandbox.faults = Faults()
    settled = publisher.settle(outgoing)
    assert settled is not None and settled.platform_id.endswith(outgoing.idempotency_key)
    again = publisher.publish(outgoing)  # even a blind resend lands on the same record key
    assert again.platform_id == settled.platform_id and again.response["already_existed"] is True
    assert len(sandbox.posts("bluesky")) == 1


def test_dropped_before_handling_settles_as_not_sent_then_sends_once(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox, timeout=TIMEOUT)
    publisher.warm()
    outgoing = post("dropped")
    sandbox.faults.update(drop_rate=1)

    with pytest.raises(OutcomeUnknown):  # the client cannot tell a drop before from a drop after
        publisher.publish(outgoing)

    sandbox.faults = Faults()
    assert publisher.settle(outgoing) is None
    publisher.publish(outgoing)
    assert len(sandbox.posts("bluesky")) == 1


def test_dropped_after_accepting_settles_as_published(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox, timeout=TIMEOUT)
    publisher.warm()
    outgoing = post("accepted, then dropped")
    sandbox.faults.update(accept_then_drop_rate=1)

    with pytest.raises(OutcomeUnknown):
        publisher.publish(outgoing)

    sandbox.faults = Faults()
    assert publisher.settle(outgoing) is not None
    assert len(sandbox.posts("bluesky")) == 1


def test_record_key_holding_other_content_is_rejected_clearly(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox)
    rkey = new_tid()
    original = publisher.publish(post("the original", idempotency_key=rkey))

    with pytest.raises(Rejected) as rejected:
        publisher.publish(post("different words", idempotency_key=rkey))

    message = str(rejected.value)
    assert original.platform_id in message and "InvalidSwap" in message and "not overwriting" in message
    [accepted] = sandbox.posts("bluesky")
    assert accepted.text == "the original"


def test_settle_of_a_post_never_sent_is_none(sandbox: Sandbox) -> None:
    assert publisher_for(sandbox).settle(post("never sent")) is None


def test_idempotency_key_must_be_a_tid(sandbox: Sandbox) -> None:
    assert is_tid(new_tid()) and len(new_tid()) == 13
    with pytest.raises(Rejected, match="not a TID"):
        publisher_for(sandbox).publish(post("x", idempotency_key="post-42"))


# --- each error kind ---------------------------------------------------------------------------------

def test_server_error_is_retry_later(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox, timeout=TIMEOUT)
    sandbox.faults.update(error_rate=1)
    with pytest.raises(RetryLater, match="503"):
        publisher.publish(post("fails"))
    assert sandbox.posts("bluesky") == []


def test_timeout_while_uploading_an_image_is_retry_later(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox, timeout=TIMEOUT)
    publisher.warm()
    sandbox.faults.update(accept_then_timeout_rate=1, hold_seconds=1.0)
    picture = Image(image_bytes(), "image/jpeg", "alt", 64, 48)
    with pytest.raises(RetryLater, match="upload of image 1"):  # no post can exist yet
        publisher.publish(post("with picture", images=(picture,)))


def test_refused_connection_is_retry_later() -> None:
    publisher = create_publisher({"handle": "nobody.test", "app_password": "abcd-efgh-ijkl-mnop"},
                                 base_url="http://127.0.0.1:9", timeout=TIMEOUT)
    with pytest.raises(RetryLater, match="could not connect"):
        publisher.publish(post("nowhere"))


def test_injected_rate_limit_names_the_reset(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox)
    sandbox.faults.update(rate_limit_rate=1, rate_limit_reset=3)
    started = datetime.now(timezone.utc)
    with pytest.raises(RateLimited) as limited:
        publisher.publish(post("too many"))
    seconds = (limited.value.until - started).total_seconds()
    assert 2 <= seconds <= 5 and "5000;w=3600" in str(limited.value)


def test_waiting_out_the_write_limit() -> None:
    # 4 points per 1.5 s: two putRecords (2 points each), then 429 until the window resets.
    clock = DrivenClock()  # the sandbox's rate windows run on it: the test moves it instead of sleeping
    with Sandbox([BlueskyApp(write_windows=((4, 1.5),))], clock=clock.epoch) as small:
        publisher = create_publisher(small.credentials("bluesky", "busy"), base_url=small.base_url("bluesky"),
                                     clock=clock)
        publisher.publish(post("one"))
        publisher.publish(post("two"))
        third = post("three")
        with pytest.raises(RateLimited) as limited:
            publisher.publish(third)
        until = limited.value.until
        assert "4;w=1" in str(limited.value) and until > clock()
        clock.advance(until - clock() + timedelta(milliseconds=50))
        publisher.publish(third)
        assert [p.text for p in small.posts("bluesky")] == ["one", "two", "three"]


def test_wrong_app_password_is_rejected_without_the_secret(sandbox: Sandbox) -> None:
    handle = sandbox.credentials("bluesky", "wrong-password")["handle"]
    secret = "wxyz-wxyz-wxyz-wxyz"
    publisher = create_publisher({"handle": handle, "app_password": secret}, base_url=sandbox.base_url("bluesky"))
    with pytest.raises(Rejected) as rejected:
        publisher.publish(post("hello"))
    message = str(rejected.value)
    assert "Invalid identifier or password" in message and handle in message and secret not in message
    assert secret not in repr(publisher)


def test_over_length_text_is_rejected_with_bluesky_words(sandbox: Sandbox) -> None:
    publisher = publisher_for(sandbox)
    with pytest.raises(Rejected, match="must not be longer than 300 graphemes"):
        publisher.publish(post("é" * 301))
    with pytest.raises(Rejected, match="must not be longer than 3000 characters"):  # 200 graphemes, 3,600 bytes
        publisher.publish(post("👩‍👩‍👧" * 200))
    publisher.publish(post("a" * 300))
    assert len(sandbox.posts("bluesky")) == 1


def test_too_many_images_are_rejected(sandbox: Sandbox) -> None:
    pictures = tuple(Image(image_bytes(), "image/jpeg", f"picture {n}", 64, 48) for n in range(5))
    with pytest.raises(Rejected, match="must not have more than 4 elements"):
        publisher_for(sandbox).publish(post("five", images=pictures))


def test_blob_over_the_limit_is_rejected_naming_it(sandbox: Sandbox) -> None:
    # As the reference PDS: 1.5 MB is taken (its limit is 5 MiB), more than 5 MiB is 413 PayloadTooLarge.
    big = Image(b"\xff\xd8" + bytes(1_500_000), "image/jpeg", "big", 1000, 1000, "big.jpg")
    publisher_for(sandbox).publish(post("big picture", images=(big,)))
    assert sandbox.posts("bluesky")[0].media[0].size == len(big.data)
    huge = Image(b"\xff\xd8" + bytes(BLOB_UPLOAD_LIMIT_REFERENCE), "image/jpeg", "huge", 1000, 1000, "huge.jpg")
    with pytest.raises(Rejected) as rejected:
        publisher_for(sandbox).publish(post("huge picture", images=(huge,)))
    message = str(rejected.value)
    assert "PayloadTooLarge: request entity too large" in message and "huge.jpg" in message
    assert f"takes images up to {BLOB_UPLOAD_LIMIT_REFERENCE:,} bytes (its describeServer blobUploadLimit)" in message

    # As an older PDS answered (the sandbox before): 1,000,000 bytes, 400 BlobTooLarge.
    with Sandbox([BlueskyApp(reference_pds=False)]) as older:
        with pytest.raises(Rejected) as rejected:
            create_publisher(older.credentials("bluesky", "big"), base_url=older.base_url("bluesky")).publish(
                post("big picture", images=(big,)))
        message = str(rejected.value)
        assert "BlobTooLarge" in message and "maximum size is 976.56KB" in message and "big.jpg" in message

    with Sandbox([BlueskyApp(reference_pds=False, blob_upload_limit=BLOB_LIMIT_RAISED)]) as raised:
        create_publisher(raised.credentials("bluesky", "big"), base_url=raised.base_url("bluesky")).publish(
            post("big picture", images=(big,)))
        assert raised.posts("bluesky")[0].media[0].size == len(big.data)


# --- the server's own blob limit (describeServer blobUploadLimit) -------------------------------------

def describe_calls(running: Sandbox) -> int:
    return sum(1 for _, _, path, _ in running.requests("bluesky")
               if path == "/xrpc/com.atproto.server.describeServer")


def blob(size: int, name: str = "photo.jpg") -> Image:
    return Image(b"\xff\xd8\xff" + bytes(size - 3), "image/jpeg", "a photo", 1000, 1000, name)


def test_upload_over_a_small_server_limit_names_that_limit_read_once() -> None:
    # A PDS started with BLOB_LIMIT=500000: 413 PayloadTooLarge, and the advice names its announced limit.
    with Sandbox([BlueskyApp(blob_upload_limit=500_000)]) as small:
        publisher = create_publisher(small.credentials("bluesky", "small"), base_url=small.base_url("bluesky"))
        assert describe_calls(small) == 0  # read only when an upload is refused
        for _ in range(2):
            with pytest.raises(Rejected) as rejected:
                publisher.publish(post("too big here", images=(blob(600_000),)))
            message = str(rejected.value)
            assert "upload of image 1 (photo.jpg, 600,000 bytes)" in message
            assert "413 PayloadTooLarge: request entity too large" in message
            assert ("the server takes images up to 500,000 bytes (its describeServer blobUploadLimit); make the "
                    "image smaller or set image_max_bytes for this account below that") in message
        assert describe_calls(small) == 1 and small.posts("bluesky") == []
        publisher.publish(post("fits", images=(blob(500_000),)))
        assert small.posts("bluesky")[0].media[0].size == 500_000


class FrontProxy:
    """A proxy in front of a sandbox PDS, like nginx with a small ``client_max_body_size``: an upload over
    ``max_body`` gets nginx's 413 HTML page; ``describe_status`` answers describeServer with that status and
    an HTML page instead of passing it on. Everything else is passed on, with the Host header kept (so the
    DID document the sandbox answers names the proxy, and the SDK keeps talking to it)."""

    PAGE = ("<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>"
            "\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")

    def __init__(self, upstream: str, *, max_body: int, describe_status: int | None = None) -> None:
        self.upstream, self.max_body, self.describe_status = upstream, max_body, describe_status
        self.describe_calls = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.forward()

            def do_POST(self) -> None:
                self.forward()

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.endswith("com.atproto.server.describeServer"):
                    proxy.describe_calls += 1
                    if proxy.describe_status is not None:
                        return self.page(proxy.describe_status, "Bad Gateway")
                if self.path.endswith("com.atproto.repo.uploadBlob") and len(body) > proxy.max_body:
                    return self.page(413, "Request Entity Too Large")
                headers = {name: value for name, value in self.headers.items()
                           if name.lower() in ("host", "authorization", "content-type", "accept")}
                answer = httpx.request(self.command, proxy.upstream + self.path, headers=headers, content=body)
                self.send_response(answer.status_code)
                for name in ("content-type", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
                             "ratelimit-policy"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def page(self, status: int, reason: str) -> None:
                html = proxy.PAGE.format(status=f"{status} {reason}").encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FrontProxy":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_proxy_refusing_with_an_html_413_gives_its_words_and_the_announced_limit(sandbox: Sandbox) -> None:
    with FrontProxy(sandbox.base_url("bluesky"), max_body=300_000) as proxy:
        publisher = create_publisher(sandbox.credentials("bluesky", "behind-a-proxy"), base_url=proxy.url)
        with pytest.raises(Rejected) as rejected:
            publisher.publish(post("through the proxy", images=(blob(400_000, "banner.jpg"),)))
        message = str(rejected.value)
        assert "too large (413 Request Entity Too Large nginx)" in message and "<" not in message
        assert (f"the server announces it takes images up to {BLOB_UPLOAD_LIMIT_REFERENCE:,} bytes (its "
                "describeServer blobUploadLimit), so something in front of it (a proxy) takes less; make the image "
                "smaller or set image_max_bytes for this account below 400,000 bytes") in message
        assert publisher.service_url.startswith(proxy.url)  # the uploads went through the proxy
        publisher.publish(post("small enough", images=(blob(200_000),)))
        assert [p.text for p in sandbox.posts("bluesky")] == ["small enough"]


def test_an_unreadable_describe_server_never_hides_the_refusal(sandbox: Sandbox) -> None:
    with FrontProxy(sandbox.base_url("bluesky"), max_body=300_000, describe_status=502) as proxy:
        publisher = create_publisher(sandbox.credentials("bluesky", "behind-a-broken-proxy"), base_url=proxy.url)
        for _ in range(2):
            with pytest.raises(Rejected) as rejected:
                publisher.publish(post("through the proxy", images=(blob(400_000),)))
            message = str(rejected.value)
            assert "too large (413 Request Entity Too Large nginx)" in message
            assert "the server's limit is unknown" in message and "answered 502: 502 Bad Gateway nginx" in message
            assert "set image_max_bytes for this account below 400,000 bytes" in message
        assert proxy.describe_calls == 1  # once per publisher, even when it failed


def test_server_limits_lower_image_max_bytes_only_below_what_would_be_used() -> None:
    bluesky = platform("bluesky")
    with Sandbox([BlueskyApp(blob_upload_limit=500_000)]) as small:
        assert bluesky.server_limits(small.base_url("bluesky"), 5.0, bluesky.limits()) == {"image_max_bytes": 500_000}
        xrpc_url = small.base_url("bluesky") + "/xrpc/"
        assert bluesky.server_limits(xrpc_url, 5.0, bluesky.limits()) == {"image_max_bytes": 500_000}
    with Sandbox([BlueskyApp()]) as default:  # 5 MiB: above the lexicon's 2,000,000, so the lexicon wins
        assert bluesky.server_limits(default.base_url("bluesky"), 5.0, bluesky.limits()) == {}
    with Sandbox([BlueskyApp(blob_upload_limit=1_500_000)]) as raised:  # above our 1,000,000 default: nothing
        assert bluesky.server_limits(raised.base_url("bluesky"), 5.0, bluesky.limits()) == {}
    with Sandbox([BlueskyApp(reference_pds=False)]) as older:  # announces no blobUploadLimit
        assert bluesky.server_limits(older.base_url("bluesky"), 5.0, bluesky.limits()) == {}


def test_server_limits_of_an_unreachable_or_odd_server_are_retry_later() -> None:
    bluesky = platform("bluesky")
    with pytest.raises(RetryLater, match=r"describeServer\): connection refused"):
        bluesky.server_limits("http://127.0.0.1:9", 2.0, bluesky.limits())
    with pytest.raises(RetryLater, match="not an http:// or https:// address"):
        bluesky.server_limits("pds.example.org", 2.0, bluesky.limits())
    with Sandbox([BlueskyApp()]) as running, FrontProxy(running.base_url("bluesky"), max_body=1,
                                                        describe_status=502) as proxy:
        with pytest.raises(RetryLater, match="answered 502: 502 Bad Gateway nginx"):
            bluesky.server_limits(proxy.url, 2.0, bluesky.limits())


def test_online_check_uses_the_pds_blob_limit(tmp_path: Path) -> None:
    with Sandbox([BlueskyApp(blob_upload_limit=400_000)]) as small:
        accounts = (f'[[accounts]]\nid = "pds-small"\nplatform = "bluesky"\nhandle = "net.example.com"\n'
                    f'instance = "{small.base_url("bluesky")}"\nsandbox = true\n'
                    'credentials = { app_password = "NET_BSKY" }\n')
        config = StormProject.create(tmp_path, accounts=accounts).load_config()
        assert config.image_profile("pds-small").max_bytes == IMAGE_DEFAULT_MAX_BYTES
        online, problems = service.with_instance_limits(config, timeout=5.0)
        assert problems == [] and online.image_profile("pds-small").max_bytes == 400_000
        lower = StormProject.create(tmp_path / "lower", accounts=accounts,
                                    extra="\n[limits.bluesky]\nimage_max_bytes = 300000\n").load_config()
        online, problems = service.with_instance_limits(lower, timeout=5.0)  # the organizer's lower setting stays
        assert problems == [] and online.image_profile("pds-small").max_bytes == 300_000
    offline, problems = service.with_instance_limits(config, timeout=2.0)  # the server is gone: a warning
    assert offline.image_profile("pds-small").max_bytes == IMAGE_DEFAULT_MAX_BYTES
    [problem] = problems
    assert not problem.is_error and "connection refused" in problem.message
    assert "checking with the configured limits instead" in problem.message


# --- against the reference PDS (@atproto/pds, started by .ci/peers) -------------------------------------

@pytest.fixture(scope="module")
def reference_pds() -> dict[str, Any]:
    """The reference PDS's entry of peers.json (pdsUrl, blobUploadLimit, accounts); skips, naming why, where
    it is not installed or did not start."""
    from peers import peer

    return peer("pds", "The reference Bluesky PDS")


def test_reference_pds_refuses_an_image_over_its_limit_and_the_advice_names_it(
        reference_pds: dict[str, Any]) -> None:
    pds_url, limit = reference_pds["pdsUrl"], reference_pds["blobUploadLimit"]
    account = reference_pds["accounts"][-1]
    bluesky = platform("bluesky")
    publisher = bluesky.create_publisher({"app_password": account["appPassword"]}, handle=account["handle"],
                                         base_url=pds_url, timeout=30.0)
    try:
        with pytest.raises(Rejected) as rejected:
            publisher.publish(post("one image too big for the server", images=(blob(limit + 1, "huge.jpg"),)))
    finally:
        publisher.close()
    message = str(rejected.value)
    assert "413 PayloadTooLarge: request entity too large" in message and "huge.jpg" in message
    assert f"the server takes images up to {limit:,} bytes (its describeServer blobUploadLimit)" in message
    # The reference's default is 5 MiB, above the lexicon's 2,000,000 and our 1,000,000: nothing is lowered.
    lowered = {} if limit >= IMAGE_DEFAULT_MAX_BYTES else {"image_max_bytes": limit}
    assert bluesky.server_limits(pds_url, 5.0, bluesky.limits()) == lowered


# --- the session: kept, refreshed, never one login per post ------------------------------------------

def test_session_is_refreshed_without_logging_in_again() -> None:
    # An access token living 15 min + 2 s: the SDK refreshes 15 min before expiry, i.e. after ~2 s.
    with Sandbox([BlueskyApp(access_token_lifetime=15 * 60 + 2)]) as short:
        publisher = create_publisher(short.credentials("bluesky", "refresh"), base_url=short.base_url("bluesky"))
        publisher.publish(post("before"))
        time.sleep(2.1)
        publisher.publish(post("after"))
        assert session_calls(short, "createSession") == 1 and session_calls(short, "refreshSession") == 1
        assert (publisher.logins, publisher.refreshes) == (1, 1)
        assert len(short.posts("bluesky")) == 2


def test_token_the_server_expired_is_refreshed_and_the_post_sent_once() -> None:
    app = BlueskyApp()
    with Sandbox([app]) as running:
        credentials = running.credentials("bluesky", "revoked")
        publisher = create_publisher(credentials, base_url=running.base_url("bluesky"))
        publisher.publish(post("first"))
        app.expire_access_tokens(credentials["handle"])  # the server now answers 400 ExpiredToken

        publisher.publish(post("second"))

        assert session_calls(running, "createSession") == 1 and session_calls(running, "refreshSession") == 1
        assert [p.text for p in running.posts("bluesky")] == ["first", "second"]


def test_dead_refresh_token_leads_to_one_new_login() -> None:
    app = BlueskyApp()
    with Sandbox([app]) as running:
        credentials = running.credentials("bluesky", "dead-refresh")
        publisher = create_publisher(credentials, base_url=running.base_url("bluesky"))
        publisher.publish(post("first"))
        app.expire_access_tokens(credentials["handle"], refresh_too=True)

        publisher.publish(post("second"))

        assert session_calls(running, "createSession") == 2 and session_calls(running, "refreshSession") == 1
        assert len(running.posts("bluesky")) == 2


def test_login_rate_limit_is_rate_limited() -> None:
    with Sandbox([BlueskyApp(session_windows=((1, 60.0),))]) as running:
        credentials = running.credentials("bluesky", "many-logins")
        create_publisher(credentials, base_url=running.base_url("bluesky")).publish(post("first"))
        with pytest.raises(RateLimited) as limited:  # a second publisher for the same account logs in again
            create_publisher(credentials, base_url=running.base_url("bluesky")).publish(post("second"))
        assert "1;w=60" in str(limited.value) and "login" in str(limited.value)
        assert 55 <= (limited.value.until - datetime.now(timezone.utc)).total_seconds() <= 61


# --- configuration ------------------------------------------------------------------------------------

def test_credentials_and_handle() -> None:
    assert REQUIRED_CREDENTIALS == (("app_password",),)
    with pytest.raises(ValueError, match="app_password"):
        create_publisher({}, handle="alice.bsky.social")
    with pytest.raises(ValueError, match="handle"):
        create_publisher({"app_password": "abcd-efgh-ijkl-mnop"})
    publisher = create_publisher({"app_password": "abcd-efgh-ijkl-mnop"}, handle="@alice.bsky.social")
    assert publisher.handle == "alice.bsky.social"
    assert publisher.service_url == "https://bsky.social/xrpc"
    assert "abcd" not in repr(publisher)
    publisher.close()


def test_sandbox_credentials_are_stable_and_cheap(sandbox: Sandbox) -> None:
    first = sandbox.credentials("bluesky", "Organiser One")
    assert sandbox.credentials("bluesky", "Organiser One") == first
    assert set(first) == {"handle", "app_password"} and first["handle"].endswith(".test")
    started = time.perf_counter()
    handles = {sandbox.credentials("bluesky", f"bulk-{n}")["handle"] for n in range(1000)}
    assert len(handles) == 1000 and time.perf_counter() - started < 1.0


def test_parse_reply_ref_accepts_both_forms() -> None:
    ref = parse_reply_ref("at://did:plc:abc/app.bsky.feed.post/3kabc|bafyrei123")
    assert (ref.uri, ref.cid) == ("at://did:plc:abc/app.bsky.feed.post/3kabc", "bafyrei123")
    assert parse_reply_ref(ref.as_json()) == ref
    with pytest.raises(Rejected):
        parse_reply_ref("12345")

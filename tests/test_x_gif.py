"""Animated GIFs on X: ``tweet_gif`` through the chunked upload (initialize, append in order, finalize, STATUS
until processed), checked by the sandbox the way X's OpenAPI description says; and a 10 MB animated GIF in a
campaign reaching the X sandbox as an animated GIF through the daemon. Real HTTP, the real Tweepy client."""

from __future__ import annotations

import io
import random
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from PIL import Image as PILImage

from project import StormProject, distinct_text, soon, write_campaign
from scheduler import service
from scheduler.config import load_config
from scheduler.dispatch import DispatchEvent, DispatchSettings
from scheduler.platforms.base import Image, OutgoingPost
from scheduler.platforms.x.facts import MEDIA_SEGMENT_BYTES
from scheduler.platforms.x.publisher import create_publisher
from scheduler.sandbox.core import Sandbox
from scheduler.sandbox.x import MAX_GIF_BYTES, XApp

FAST = DispatchSettings(workers=4)


@pytest.fixture(scope="module")
def x_app() -> XApp:
    return XApp(media_check_after_secs=0)


@pytest.fixture(scope="module")
def sandbox(x_app: XApp) -> Iterator[Sandbox]:
    with Sandbox([x_app], seed=5) as running:
        yield running


def noise_gif(frames: int, size: tuple[int, int] = (640, 480), seed: int = 1) -> bytes:
    """An animated GIF of random pixels (it hardly compresses: 26 frames of 640x480 are about 10 MB)."""
    chooser = random.Random(seed)
    palette = [chooser.randrange(256) for _ in range(768)]
    images = []
    for _ in range(frames):
        frame = PILImage.frombytes("P", size, chooser.randbytes(size[0] * size[1]))
        frame.putpalette(palette)
        images.append(frame)
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return out.getvalue()


def frames_of(data: bytes) -> int:
    with PILImage.open(io.BytesIO(data)) as opened:
        return int(getattr(opened, "n_frames", 1))


def post_with(data: bytes, alt: str = "a flickering banner") -> OutgoingPost:
    gif = Image(data=data, mime_type="image/gif", alt=alt, width=640, height=480, filename="image.gif")
    return OutgoingPost(key=uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex[:13],
                        text=f"Animated #FreeThemAll {uuid.uuid4().hex[:6]}", images=(gif,))


def paths(sandbox: Sandbox, since: int) -> list[tuple[str, str]]:
    return [(method, path) for _, method, path, _ in sandbox.requests("x")[since:]]


def bearer(x_app: XApp, account: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {x_app.oauth2_credentials(account)['user_token']}"}


# --- the publisher --------------------------------------------------------------------------------------------
def test_an_animated_gif_goes_as_tweet_gif_through_the_chunked_upload(sandbox: Sandbox) -> None:
    account = "gif_" + uuid.uuid4().hex[:6]
    publisher = create_publisher(sandbox.credentials("x", account), base_url=sandbox.base_url("x"), timeout=10)
    data = noise_gif(20)  # about 8 MB: over the 5 MB of a one-request upload, in several segments
    assert len(data) > MEDIA_SEGMENT_BYTES
    before = len(sandbox.requests("x"))

    published = publisher.publish(post_with(data))

    calls = paths(sandbox, before)
    media_id = calls[1][1].split("/")[4]
    segments = -(-len(data) // MEDIA_SEGMENT_BYTES)
    assert segments >= 2
    assert calls[:segments + 3] == [("POST", "/2/media/upload/initialize"),
                                    *[("POST", f"/2/media/upload/{media_id}/append")] * segments,
                                    ("POST", f"/2/media/upload/{media_id}/finalize"), ("GET", "/2/media/upload")]
    assert ("POST", "/2/media/metadata") in calls and calls[-1] == ("POST", "/2/tweets")
    [accepted] = [p for p in sandbox.posts("x") if p.post_id == published.platform_id]
    [media] = accepted.media
    assert media.mime_type == "image/gif" and media.size == len(data) and media.data == data
    assert frames_of(media.data) == 20 and media.alt == "a flickering banner"


def test_a_still_gif_stays_a_one_request_image(sandbox: Sandbox) -> None:
    out = io.BytesIO()
    PILImage.new("RGB", (32, 32), (10, 200, 10)).save(out, "GIF")
    publisher = create_publisher(sandbox.credentials("x", "still_gif"), base_url=sandbox.base_url("x"))
    before = len(sandbox.requests("x"))
    publisher.publish(post_with(out.getvalue()))
    assert paths(sandbox, before)[0] == ("POST", "/2/media/upload")


# --- the sandbox checks the chunked upload as X describes it ----------------------------------------------------
def initialize(sandbox: Sandbox, headers: dict[str, str], **body: Any) -> requests.Response:
    return requests.post(sandbox.base_url("x") + "/2/media/upload/initialize", json=body, headers=headers,
                         timeout=5)


def append(sandbox: Sandbox, headers: dict[str, str], media_id: str, index: int, chunk: bytes) -> requests.Response:
    return requests.post(f"{sandbox.base_url('x')}/2/media/upload/{media_id}/append", headers=headers,
                         files={"media": ("segment", chunk)}, data={"segment_index": str(index)}, timeout=5)


def test_the_sandbox_refuses_what_x_refuses(sandbox: Sandbox, x_app: XApp) -> None:
    headers = bearer(x_app, "checks")
    too_big = initialize(sandbox, headers, media_type="image/gif", total_bytes=MAX_GIF_BYTES + 1,
                         media_category="tweet_gif")
    assert too_big.status_code == 400 and "File size exceeds" in too_big.text
    image_too_big = initialize(sandbox, headers, media_type="image/png", total_bytes=5 * 1024 * 1024 + 1,
                               media_category="tweet_image")
    assert image_too_big.status_code == 400
    mismatch = initialize(sandbox, headers, media_type="image/png", total_bytes=10, media_category="tweet_gif")
    assert mismatch.status_code == 400 and "media_type" in mismatch.text
    assert initialize(sandbox, headers, media_type="image/gif", total_bytes=10,
                      media_category="tweet_meme").status_code == 400

    data = noise_gif(2, size=(20, 20))
    media_id = initialize(sandbox, headers, media_type="image/gif", total_bytes=len(data),
                          media_category="tweet_gif").json()["data"]["id"]
    out_of_order = append(sandbox, headers, media_id, 1, data[:10])
    assert out_of_order.status_code == 400 and "segment_index" in out_of_order.text
    assert append(sandbox, headers, media_id, 0, data[:10]).status_code == 200
    early = requests.post(f"{sandbox.base_url('x')}/2/media/upload/{media_id}/finalize", headers=headers, timeout=5)
    assert early.status_code == 400 and "mismatch" in early.text  # not all bytes yet
    assert append(sandbox, headers, media_id, 1, data[10:]).status_code == 200
    final = requests.post(f"{sandbox.base_url('x')}/2/media/upload/{media_id}/finalize", headers=headers, timeout=5)
    assert final.json()["data"]["processing_info"]["state"] == "pending"

    unprocessed = requests.post(sandbox.base_url("x") + "/2/tweets", headers=headers, timeout=5,
                                json={"text": "too soon", "media": {"media_ids": [media_id]}})
    assert unprocessed.status_code == 400 and "media IDs are invalid" in unprocessed.text
    states = [requests.get(sandbox.base_url("x") + "/2/media/upload", headers=headers, timeout=5,
                           params={"media_id": media_id, "command": "STATUS"}).json()["data"]["processing_info"]
              ["state"] for _ in range(2)]
    assert states == ["in_progress", "succeeded"]


def test_the_chunked_upload_needs_media_write(sandbox: Sandbox, x_app: XApp) -> None:
    token = x_app.oauth2_credentials("no_media", scopes=("tweet.read", "tweet.write", "users.read"))["user_token"]
    refused = initialize(sandbox, {"Authorization": f"Bearer {token}"}, media_type="image/gif", total_bytes=10,
                         media_category="tweet_gif")
    assert refused.status_code == 403 and refused.json()["title"] == "Forbidden"


# --- the done criterion: a 10 MB animated GIF in a campaign, through the daemon ---------------------------------
ACCOUNT = """
[[accounts]]
id = "gif-x"
platform = "x"
handle = "@{handle}"
credentials = {{ user_token = "GIF_X_TOKEN" }}
sandbox = true
"""


def test_a_10_mb_animated_gif_in_a_campaign_reaches_x_as_an_animated_gif(
        tmp_path: Path, sandbox: Sandbox, x_app: XApp) -> None:
    project = StormProject.create(tmp_path, accounts=ACCOUNT.format(handle=x_app.username_of("gif-x"))).live()
    (tmp_path / "assets" / "banner.gif").write_bytes(noise_gif(26))  # about 11 MB, 640x480, with EXIF-free frames
    text = distinct_text("gif")
    campaign = write_campaign(tmp_path, "gif", soon(3), posts=(
        f'[[posts]]\nid = "banner"\ntext = "{text}"\naccounts = ["gif-x"]\n'
        'images = [{ file = "banner.gif", alt = "A banner that flickers" }]\n'))
    config = load_config(project.config_path)
    events: list[DispatchEvent] = []
    with service.open_store(config) as store:
        service.queue(campaign, config, store)
        daemon = service.start_daemon(config, store, sandbox=sandbox, settings=FAST, on_event=events.append)
        try:
            daemon.wait_until_idle(timeout=60)
        finally:
            daemon.stop()

    assert [e.kind for e in events] == ["sent"], [str(e) for e in events]
    [accepted] = [p for p in sandbox.posts("x") if p.text == text]
    [media] = accepted.media
    assert media.mime_type == "image/gif"
    assert 5 * 1024 * 1024 < media.size <= 15 * 1024 * 1024  # over the one-request limit: chunked
    assert frames_of(media.data) == 26 and media.has_exif is False
    assert media.alt == "A banner that flickers"


# --- against X's own description ---------------------------------------------------------------------------------
X_OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "x-openapi" / "openapi.json"


def test_the_chunked_upload_matches_the_x_openapi(sandbox: Sandbox, x_app: XApp) -> None:
    if not X_OPENAPI.exists():
        pytest.skip(f"X OpenAPI description not found at {X_OPENAPI} (../shared/conformance is absent)")
    import json

    jsonschema = pytest.importorskip("jsonschema")
    components = json.loads(X_OPENAPI.read_text())["components"]

    def check(name: str, body: Any) -> None:
        validator = jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                                     "components": components})
        assert [e.message for e in validator.iter_errors(body)] == [], name

    headers = bearer(x_app, "conformance")
    data = noise_gif(2, size=(20, 20))
    request = {"media_type": "image/gif", "total_bytes": len(data), "media_category": "tweet_gif"}  # as sent
    check("InitializeMediaUploadRequest", request)
    started = initialize(sandbox, headers, **request).json()
    check("InitializeMediaUploadResponse", started)
    media_id = started["data"]["id"]
    check("AppendMediaUploadRequest", {"media": "c2VnbWVudA==", "segment_index": 0})
    check("AppendMediaUploadResponse", append(sandbox, headers, media_id, 0, data).json())
    final = requests.post(f"{sandbox.base_url('x')}/2/media/upload/{media_id}/finalize", headers=headers, timeout=5)
    check("FinalizeMediaUploadResponse", final.json())
    status = requests.get(sandbox.base_url("x") + "/2/media/upload", headers=headers, timeout=5,
                          params={"media_id": media_id, "command": "STATUS"})
    check("GetMediaUploadStatusResponse", status.json())

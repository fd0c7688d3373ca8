"""Image benchmark: the project's pipeline against a naive one, making Bluesky-ready images.

    python benchmarks/images.py            # 24 photos of 4000x3000, as the issue asks
    python benchmarks/images.py --count 4  # a quick run

It generates photo-like 4000x3000 JPEGs (gradients, shapes, textures and grain, so they compress like
photos: about 3-6 MB each, with EXIF including GPS and an orientation tag) in a temporary folder, then
turns each into an image of at most 1,000,000 bytes (Bluesky's default blob limit):

- ours: ``scheduler.media.prepare_image(path, profile_for("bluesky"))`` (upright, metadata stripped,
  JPEG decoded at reduced scale, quality found on a strip sample);
- naive: open, ``thumbnail((2000, 2000))``, save at quality 95, lower the quality by 5 until it fits.

Each pipeline runs in its own fresh subprocess (same files, same order), so neither inherits the
other's warmed caches or heap. Memory is, per image, the worker's peak resident set size (VmHWM, reset
before each image) minus its resident size just before the image; the table shows the largest. RSS
counts Pillow's C buffers, which tracemalloc cannot see.
Results are printed and written to benchmarks/results/images.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import ExifTags, Image, ImageChops, ImageDraw, ImageFilter

PHOTO_SIZE = (4000, 3000)
BLUESKY_LIMIT = 1_000_000
RESULTS_PATH = Path(__file__).resolve().parent / "results" / "images.json"
ORIENTATIONS = (1, 6, 3, 8)  # upright, phone held upright (90° CW), upside down, 90° CCW


# --- Generating photo-like images -------------------------------------------------------------------


def _gradient(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    gradient = Image.linear_gradient("L").rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR,
                                                  expand=False, fillcolor=rng.randrange(256))
    return gradient.resize(size, Image.Resampling.BILINEAR)


def _scene(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Smooth colour fields and soft-edged shapes, drawn small and enlarged (as optics blur)."""
    small = (size[0] // 8, size[1] // 8)
    base = Image.merge("RGB", [_gradient(rng, small) for _ in range(3)])
    draw = ImageDraw.Draw(base)
    for _ in range(rng.randint(25, 45)):
        x, y = rng.randrange(small[0]), rng.randrange(small[1])
        w, h = rng.randint(10, small[0] // 3), rng.randint(10, small[1] // 3)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(("ellipse", "rectangle", "polygon"))
        if shape == "polygon":
            points = [(x + rng.randint(-w, w), y + rng.randint(-h, h)) for _ in range(rng.randint(3, 7))]
            draw.polygon(points, fill=colour)
        else:
            getattr(draw, shape)((x, y, x + w, y + h), fill=colour)
    base = base.filter(ImageFilter.GaussianBlur(1.2))
    return base.resize(size, Image.Resampling.BICUBIC)


def _texture(size: tuple[int, int], sigma: float, scale: int) -> Image.Image:
    """Grey noise made at 1/scale and enlarged: grain (scale 1) or surface texture (scale > 1)."""
    noise = Image.effect_noise((size[0] // scale, size[1] // scale), sigma)
    return noise if scale == 1 else noise.resize(size, Image.Resampling.BICUBIC)


def photo_like(seed: int, size: tuple[int, int] = PHOTO_SIZE) -> Image.Image:
    rng = random.Random(seed)
    scene = _scene(rng, size)
    # Grain and texture strength vary per photo (sensor noise, subject), so files range ~3-6 MB.
    texture = ImageChops.add(_texture(size, rng.uniform(14, 30), 4), _texture(size, rng.uniform(6, 18), 1),
                             scale=2.0)  # centred on 128
    grain = Image.merge("RGB", [texture] * 3)
    return ImageChops.add(scene, grain, scale=1.0, offset=-128)


def phone_exif(seed: int) -> Image.Exif:
    """EXIF as a phone writes it: camera, time, orientation and a GPS position."""
    rng = random.Random(seed)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phonemaker"
    exif[ExifTags.Base.Model] = "Pocket 12 Pro"
    exif[ExifTags.Base.DateTime] = "2026:03:08 14:03:27"
    exif[ExifTags.Base.Orientation] = ORIENTATIONS[seed % len(ORIENTATIONS)]
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, round(rng.uniform(0, 59), 2))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, round(rng.uniform(0, 59), 2))
    return exif


def generate(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"photo-{index:02d}.jpg"
        photo_like(index).save(path, "JPEG", quality=92, exif=phone_exif(index))
        paths.append(path)
    return paths


# --- The two pipelines ------------------------------------------------------------------------------


def naive_pipeline(path: Path) -> tuple[bytes, tuple[int, int]]:
    image = Image.open(path)
    image.thumbnail((2000, 2000))
    if image.mode != "RGB":
        image = image.convert("RGB")
    quality = 95
    while True:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= BLUESKY_LIMIT or quality <= 5:
            return buffer.getvalue(), image.size
        quality -= 5


def our_pipeline(path: Path) -> tuple[bytes, tuple[int, int]]:
    from scheduler.media import prepare_image
    from scheduler.platforms.registry import image_profile as profile_for

    prepared = prepare_image(path, profile_for("bluesky"))
    return prepared.data, (prepared.width, prepared.height)


PIPELINES = {"ours": our_pipeline, "naive": naive_pipeline}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset VmHWM (Linux ≥ 4.0: writing 5 to clear_refs), so each image gets its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def run_worker(name: str, paths: list[Path]) -> dict:
    """Runs in a fresh subprocess: time each image and measure its peak RSS growth.

    Peak = VmHWM after the image minus VmRSS before it (ru_maxrss is no use here: Linux carries the
    parent's high-water mark across fork and exec).
    """
    pipeline = PIPELINES[name]
    if name == "ours":  # import cost is not per-image work
        import scheduler.media  # noqa: F401
        import scheduler.platforms.registry  # noqa: F401
    records = []
    for path in paths:
        per_image = _reset_peak_rss()
        before_kib = _status_kib("VmRSS")
        started = time.perf_counter()
        data, size = pipeline(path)
        elapsed = time.perf_counter() - started
        peak_mib = (_status_kib("VmHWM") - before_kib) / 1024 if per_image else None
        records.append({"file": path.name, "seconds": elapsed, "bytes": len(data), "width": size[0],
                        "height": size[1], "fits": len(data) <= BLUESKY_LIMIT, "peak_rss_delta_mib": peak_mib})
        del data
    peaks = [r["peak_rss_delta_mib"] for r in records if r["peak_rss_delta_mib"] is not None]
    return {"pipeline": name, "images": records, "peak_rss_delta_mib": max(peaks) if peaks else None}


def _run_in_subprocess(name: str, paths: list[Path]) -> dict:
    command = [sys.executable, __file__, "--worker", name, *map(str, paths)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def _summary(result: dict) -> dict:
    images = result["images"]
    return {
        "median_seconds": statistics.median(r["seconds"] for r in images),
        "total_seconds": sum(r["seconds"] for r in images),
        "median_pixels": statistics.median(r["width"] * r["height"] for r in images),
        "median_bytes": statistics.median(r["bytes"] for r in images),
        "max_bytes": max(r["bytes"] for r in images),
        "all_fit": all(r["fits"] for r in images),
        "peak_rss_delta_mib": result["peak_rss_delta_mib"],
    }


def _print_table(summaries: dict[str, dict], ratio: float) -> None:
    header = (f"{'pipeline':<8} {'median ms':>10} {'peak RSS Δ MiB':>15} {'median px':>11} {'median bytes':>13} "
              f"{'max bytes':>10} {'fit':>4}")
    print(header)
    print("-" * len(header))
    for name, s in summaries.items():
        print(f"{name:<8} {s['median_seconds'] * 1000:>10.1f} {s['peak_rss_delta_mib']:>15.1f} "
              f"{s['median_pixels']:>11,.0f} {s['median_bytes']:>13,.0f} {s['max_bytes']:>10,} "
              f"{'yes' if s['all_fit'] else 'NO':>4}")
    print(f"\nspeed ratio (naive median / ours median): {ratio:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24, help="how many photos (default 24)")
    parser.add_argument("--worker", choices=sorted(PIPELINES), help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.paths)))
        return 0

    with tempfile.TemporaryDirectory(prefix="stormcaller-bench-") as folder:
        started = time.perf_counter()
        paths = generate(Path(folder), args.count)
        sizes = [p.stat().st_size for p in paths]
        print(f"generated {len(paths)} photos of {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} in "
              f"{time.perf_counter() - started:.1f} s: {min(sizes) / 1e6:.1f}–{max(sizes) / 1e6:.1f} MB "
              f"(median {statistics.median(sizes) / 1e6:.1f} MB)\n")
        results = {name: _run_in_subprocess(name, paths) for name in ("ours", "naive")}

    summaries = {name: _summary(result) for name, result in results.items()}
    ratio = summaries["naive"]["median_seconds"] / summaries["ours"]["median_seconds"]
    _print_table(summaries, ratio)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps({
        "photos": args.count, "photo_size": PHOTO_SIZE, "source_bytes_median": statistics.median(sizes),
        "limit_bytes": BLUESKY_LIMIT, "speed_ratio": ratio, "summary": summaries,
        "memory_measure": "per image: peak RSS (VmHWM, reset via /proc/self/clear_refs) minus RSS before it; "
                          "max over images; fresh subprocess per pipeline",
        "machine": {"python": platform.python_version(), "pillow": Image.__version__,
                    "cpus": os.cpu_count()},
        "images": results,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS_PATH.relative_to(Path.cwd()) if RESULTS_PATH.is_relative_to(Path.cwd()) else RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

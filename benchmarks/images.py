"""Image benchmark: the project's pipeline against a naive one, making Bluesky-ready images.

    python benchmarks/images.py                       # 24 photos of 4000x3000, 3 runs, as the issue asks
    python benchmarks/images.py --count 4 --runs 1    # a quick run

It generates photo-like 4000x3000 JPEGs (gradients, shapes, textures and grain, so they compress like
photos: about 3-6 MB each, with EXIF including GPS and an orientation tag) in a temporary folder, then
turns each into an image of at most 1,000,000 bytes (Bluesky's default blob limit):

- ours: ``scheduler.media.prepare_image(path, profile_for("bluesky"))`` (upright, metadata stripped,
  JPEG decoded at reduced scale, quality found on a strip sample);
- naive: open, ``thumbnail((2000, 2000))``, save at quality 95, lower the quality by 5 until it fits.

Each pipeline runs in its own fresh subprocess (same files, same order), so neither inherits the
other's warmed caches or heap; a run is one subprocess of each, and ``--runs`` runs alternate which goes
first. Time is wall time and process CPU time per image (CPU time is less disturbed by other work on a
shared machine); the figures are medians over images, then the median over runs, and the ratio is
naive / ours within each run, then its median.

Quality: the SSIM (benchmarks/ssim.py, on luma) of each output against the source scaled the same way: the
full decode, turned as that output is (ours is upright, the naive one is not), resized to the output's
size with Lanczos over the whole image. 1.0 = identical; the table shows the median over images.

Memory is, per image, the worker's peak resident set size (VmHWM, reset before each image) minus its
resident size just before the image; the table shows the largest. RSS counts Pillow's C buffers,
which tracemalloc cannot see.
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

from PIL import ExifTags, Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from common import cpu_model, machine

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


def output_path(path: Path, name: str) -> Path:
    """Where the worker leaves pipeline ``name``'s output for ``path`` (for the quality measure)."""
    return path.with_name(f"{path.stem}.{name}.out")


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
        started, started_cpu = time.perf_counter(), time.process_time()
        data, size = pipeline(path)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        output_path(path, name).write_bytes(data)
        peak_mib = (_status_kib("VmHWM") - before_kib) / 1024 if per_image else None
        records.append({"file": path.name, "seconds": elapsed, "cpu_seconds": cpu, "bytes": len(data), "width": size[0],
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
        "median_cpu_seconds": statistics.median(r["cpu_seconds"] for r in images),
        "total_seconds": sum(r["seconds"] for r in images),
        "median_pixels": statistics.median(r["width"] * r["height"] for r in images),
        "median_bytes": statistics.median(r["bytes"] for r in images),
        "max_bytes": max(r["bytes"] for r in images),
        "all_fit": all(r["fits"] for r in images),
        "peak_rss_delta_mib": result["peak_rss_delta_mib"],
    }


def quality(paths: list[Path]) -> dict[str, list[float]] | None:
    """SSIM of each pipeline's output against the source scaled the same way; None without numpy."""
    try:
        from ssim import ssim
    except ImportError:  # numpy is in the project's test extra
        return None
    scores: dict[str, list[float]] = {name: [] for name in PIPELINES}
    for path in paths:
        with Image.open(path) as source:
            source.load()
            upright = ImageOps.exif_transpose(source)
            for name, turned in (("ours", upright), ("naive", source)):
                with Image.open(output_path(path, name)) as output:
                    reference = turned.convert("RGB").resize(output.size, Image.Resampling.LANCZOS)
                    scores[name].append(ssim(output, reference))
    return scores


def _median_over_runs(runs: list[dict[str, dict]], name: str, key: str) -> float:
    return statistics.median(run[name][key] for run in runs)


def _print_table(summaries: dict[str, dict], ratios: list[float], cpu_ratios: list[float],
                 scores: dict[str, list[float]] | None) -> None:
    header = (f"{'pipeline':<8} {'median ms':>9} {'CPU ms':>7} {'peak RSS Δ MiB':>14} {'median px':>10} "
              f"{'median bytes':>12} {'max bytes':>9} {'fit':>3} {'SSIM':>6}")
    print(header)
    print("-" * len(header))
    for name, s in summaries.items():
        score = f"{statistics.median(scores[name]):.4f}" if scores else "-"
        print(f"{name:<8} {s['median_seconds'] * 1000:>9.1f} {s['median_cpu_seconds'] * 1000:>7.1f} "
              f"{s['peak_rss_delta_mib']:>14.1f} {s['median_pixels']:>10,.0f} {s['median_bytes']:>12,.0f} "
              f"{s['max_bytes']:>9,} {'yes' if s['all_fit'] else 'NO':>3} {score:>6}")
    print(f"\nspeed ratio (naive / ours, medians): {statistics.median(ratios):.2f}x wall, "
          f"{statistics.median(cpu_ratios):.2f}x CPU")
    print(f"  per run: {', '.join(f'{r:.2f}' for r in ratios)} (wall); "
          f"{', '.join(f'{r:.2f}' for r in cpu_ratios)} (CPU)")
    if scores:
        worse = sum(o < n for o, n in zip(scores["ours"], scores["naive"], strict=True))
        print(f"quality: SSIM ours {min(scores['ours']):.4f}-{max(scores['ours']):.4f}, naive "
              f"{min(scores['naive']):.4f}-{max(scores['naive']):.4f}; ours below naive on {worse} of "
              f"{len(scores['ours'])} images")
    else:
        print("quality: not measured (numpy missing; pip install -e '.[test]')")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24, help="how many photos (default 24)")
    parser.add_argument("--runs", type=int, default=3, help="runs of both pipelines (default 3)")
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
              f"(median {statistics.median(sizes) / 1e6:.1f} MB); {cpu_model()}, load average "
              f"{' '.join(f'{load:.2f}' for load in os.getloadavg())}\n")
        runs = []
        for run in range(args.runs):
            order = ("ours", "naive") if run % 2 == 0 else ("naive", "ours")
            runs.append({name: _run_in_subprocess(name, paths) for name in order})
        scores = quality(paths)

    run_summaries = [{name: _summary(result) for name, result in results.items()} for results in runs]
    ratios = [s["naive"]["median_seconds"] / s["ours"]["median_seconds"] for s in run_summaries]
    cpu_ratios = [s["naive"]["median_cpu_seconds"] / s["ours"]["median_cpu_seconds"] for s in run_summaries]
    summaries = {name: {key: (_median_over_runs(run_summaries, name, key)
                              if isinstance(value, float) else value)
                        for key, value in run_summaries[0][name].items()}
                 for name in PIPELINES}
    _print_table(summaries, ratios, cpu_ratios, scores)
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps({
        "photos": args.count, "runs": args.runs, "photo_size": PHOTO_SIZE,
        "source_bytes_median": statistics.median(sizes), "limit_bytes": BLUESKY_LIMIT,
        "speed_ratio": statistics.median(ratios), "cpu_speed_ratio": statistics.median(cpu_ratios),
        "speed_ratios_per_run": ratios, "cpu_speed_ratios_per_run": cpu_ratios,
        "ssim": scores, "ssim_median": ({name: statistics.median(v) for name, v in scores.items()}
                                        if scores else None),
        "load_average": os.getloadavg(), "summary": summaries,
        "memory_measure": "per image: peak RSS (VmHWM, reset via /proc/self/clear_refs) minus RSS before it; "
                          "max over images; fresh subprocess per pipeline",
        "machine": {"python": platform.python_version(), "pillow": Image.__version__,
                    "cpus": os.cpu_count(), "cpu_model": cpu_model(), "date": machine()["date"]},
        "images": runs,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS_PATH.relative_to(Path.cwd()) if RESULTS_PATH.is_relative_to(Path.cwd()) else RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

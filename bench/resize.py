"""Drives bench/resize: `resizer halve` and Pillow on the same files, pinned to one core, the
methods alternating within each round. Prints MP/s, ratios, output/input bytes, peak RSS and PSNR.

Speeds come from each program's own per-file timings (bytes in memory to encoded bytes), so
process start-up and file writes do not count for either side; the median round is reported.
"""
import argparse
import math
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

import numpy
from PIL import Image, ImageOps

HERE = pathlib.Path(__file__).resolve().parent


def run_pinned(command, core, environment=None):
    """Runs a command on one core; returns its stdout and its peak RSS in MB.

    GNU time reports the peak: a child forked from this Python process would inherit Python's
    own high-water mark in its ru_maxrss.
    """
    process = subprocess.run(["/usr/bin/time", "-f", "%M", "taskset", "-c", str(core), *command],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(environment or {})})
    if process.returncode != 0:
        sys.exit(f"{command[0]} exited with {process.returncode}:\n{process.stdout}{process.stderr}")
    return process.stdout, int(process.stderr.strip().splitlines()[-1]) / 1024


def warmed(files):
    """The files with the first one twice. The first run of a process loads code (Pillow imports
    its plugins on the first open: about 40 ms); the rows are keyed by path, so the second wins."""
    return [files[0], *files]


def run_resizer(resizer, files, out_dir, quality, core, optimize_huffman=False):
    """Per file: (milliseconds, bytes in, bytes out, input pixels, output path)."""
    output, rss = run_pinned([resizer, "halve", "--out", out_dir, "--quality", str(quality), *warmed(files)], core,
                             {"HALFSIZE_OPTIMIZE_HUFFMAN": "true" if optimize_huffman else "false"})
    rows = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) != 5:
            continue  # the summary line
        path, sizes, dimensions, milliseconds, out_path = fields
        bytes_in, bytes_out = (int(value) for value in sizes.removesuffix(" bytes").split(" -> "))
        width, height = (int(value) for value in dimensions.split(" -> ")[0].split("x"))
        rows[path] = (float(milliseconds.removesuffix(" ms")), bytes_in, bytes_out, width * height, out_path)
    return rows, rss


def run_pillow(mode, files, out_dir, quality, core):
    output, rss = run_pinned([sys.executable, str(HERE / "pillow_halve.py"), mode, str(quality), out_dir, *warmed(files)], core)
    rows = {}
    for line in output.splitlines():
        path, milliseconds, bytes_in, bytes_out, pixels, _, _, out_path = line.split("\t")
        rows[path] = (float(milliseconds), int(bytes_in), int(bytes_out), int(pixels), out_path)
    return rows, rss


def flattened(image):
    """RGB as float, alpha composited over mid grey so transparent colour does not count."""
    image = image.convert("RGBA")
    grey = Image.new("RGBA", image.size, (128, 128, 128, 255))
    return numpy.asarray(Image.alpha_composite(grey, image).convert("RGB"), dtype=numpy.float64)


def psnr(source_path, output_path):
    """PSNR of an output against a Lanczos halving of the source's full, upright decode."""
    with Image.open(source_path) as source:
        upright = ImageOps.exif_transpose(source)
        with Image.open(output_path) as output:
            reference = upright.convert("RGBA").resize(output.size, Image.LANCZOS)
            error = numpy.mean((flattened(output) - flattened(reference)) ** 2)
    return math.inf if error == 0 else 10 * math.log10(255 ** 2 / error)


def summarise(rounds):
    """Median-round MP/s plus the byte totals (identical every round)."""
    rates = []
    for rows in rounds:
        milliseconds = sum(row[0] for row in rows.values())
        pixels = sum(row[3] for row in rows.values())
        rates.append(pixels / 1e6 / (milliseconds / 1000))
    last = rounds[-1]
    bytes_in = sum(row[1] for row in last.values())
    bytes_out = sum(row[2] for row in last.values())
    return statistics.median(rates), min(rates), max(rates), bytes_out / bytes_in


def twenty_megapixel_jpeg(corpus_jpegs, directory):
    """A 20 MP baseline 4:2:0 JPEG made from the largest corpus photo (the memory check's input)."""
    def pixels(path):
        with Image.open(path) as image:
            return image.size[0] * image.size[1]

    largest = max(corpus_jpegs, key=pixels)
    path = os.path.join(directory, "baseline_20mp.jpg")
    with Image.open(largest) as image:
        image.convert("RGB").resize((5472, 3648), Image.BILINEAR).save(path, "JPEG", quality=90, subsampling=2)
    return path


def versions(sources, directory, extension, prepare, **save_options):
    """The corpus has only JPEG and PNG: Pillow writes a version of each source in another format,
    `prepare` turning the opened image into what is saved."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for source in sources:
        path = os.path.join(directory, pathlib.Path(source).stem + extension)
        with Image.open(source) as image:
            prepare(image).save(path, **save_options)
        paths.append(path)
    return paths


def upright_rgb(image):
    return ImageOps.exif_transpose(image).convert("RGB")


def upright_keeping_alpha(image):
    image = ImageOps.exif_transpose(image)
    return image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resizer", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--core", type=int, default=os.cpu_count() - 1)
    parser.add_argument("--corpus", default=str(HERE.parent.parent / "shared" / "corpus"))
    parser.add_argument("--quality", type=int, default=85)
    arguments = parser.parse_args()

    corpus = pathlib.Path(arguments.corpus)
    jpegs = sorted(str(path) for path in corpus.iterdir() if path.suffix.lower() in (".jpg", ".jpeg"))
    pngs = sorted(str(path) for path in corpus.iterdir() if path.suffix.lower() == ".png")
    if not jpegs or not pngs:
        sys.exit(f"no JPEG or PNG files in {corpus}")
    quality, core = arguments.quality, arguments.core

    methods = {
        "JPEG": [("resizer halve", "halfsize"), ("resizer fitted", "halfsize-fitted"), ("Pillow draft", "draft"),
                 ("Pillow plain", "plain")],
        "PNG": [("resizer halve", "halfsize"), ("Pillow", "plain")],
        "WebP": [("resizer halve", "halfsize"), ("Pillow", "plain")],
        "WebPLL": [("resizer halve", "halfsize"), ("Pillow", "plain")],
        "GIF": [("resizer halve", "halfsize"), ("Pillow", "plain")],
        "TIFF": [("resizer halve", "halfsize"), ("Pillow", "plain")],
        "BMP": [("resizer halve", "halfsize"), ("Pillow", "plain")],
        "AVIF": [("resizer halve", "halfsize"), ("Pillow", "plain")],
    }
    results = {(kind, name): [] for kind in methods for name, _ in methods[kind]}
    peak = {}
    with tempfile.TemporaryDirectory(prefix="halfsize-bench.") as scratch:
        # WebP rows: lossy versions of the JPEGs, lossless versions (WebPLL) of the PNGs.
        sets = {"JPEG": jpegs, "PNG": pngs,
                "WebP": versions(jpegs, os.path.join(scratch, "webp-lossy"), ".webp", ImageOps.exif_transpose,
                                 format="WEBP", lossless=False, quality=90),
                "WebPLL": versions(pngs, os.path.join(scratch, "webp-lossless"), ".webp", ImageOps.exif_transpose,
                                   format="WEBP", lossless=True, quality=90),
                # GIF: Pillow quantises each PNG to a 256-colour table.
                "GIF": versions(pngs, os.path.join(scratch, "gif"), ".gif", lambda image: image.convert("RGB").quantize(256), format="GIF"),
                "TIFF": versions(jpegs, os.path.join(scratch, "tiff"), ".tiff", upright_rgb, format="TIFF", compression="tiff_lzw"),
                "BMP": versions(pngs, os.path.join(scratch, "bmp"), ".bmp", upright_rgb, format="BMP"),
                "AVIF": versions(jpegs, os.path.join(scratch, "avif"), ".avif", upright_keeping_alpha, format="AVIF", quality=85)}
        for round_number in range(arguments.rounds):
            for kind, files in sets.items():
                order = methods[kind][round_number % len(methods[kind]):] + methods[kind][:round_number % len(methods[kind])]
                for name, mode in order:
                    out_dir = os.path.join(scratch, kind, mode)
                    os.makedirs(out_dir, exist_ok=True)
                    if mode.startswith("halfsize"):
                        rows, rss = run_resizer(arguments.resizer, files, out_dir, quality, core,
                                                optimize_huffman=mode == "halfsize-fitted")
                    else:
                        rows, rss = run_pillow(mode, files, out_dir, quality, core)
                    if len(rows) != len(files):
                        sys.exit(f"{name} halved {len(rows)} of {len(files)} {kind} files")
                    results[(kind, name)].append(rows)
                    peak[(kind, name)] = max(peak.get((kind, name), 0), rss)

        megapixels = {kind: sum(row[3] for row in results[(kind, "resizer halve")][0].values()) / 1e6 for kind in sets}
        print(f"corpus {corpus}: {len(jpegs)} JPEG ({megapixels['JPEG']:.1f} MP), {len(pngs)} PNG "
              f"({megapixels['PNG']:.1f} MP), and WebP versions of them (lossy from the JPEGs, lossless - WebPLL - from the PNGs) "
              f"GIF and BMP versions of the PNGs, LZW TIFF and AVIF versions of the JPEGs (both sides write TIFF and BMP photos "
              f"as JPEG, else PNG); "
              f"core {core}, quality {quality}, {arguments.rounds} rounds alternating, median")
        print(f"{'format':<6} {'method':<16} {'MP/s':>7} {'(min-max)':>15} {'x draft':>8} {'x plain':>8} {'out/in':>7} {'peak RSS':>9}")
        summary = {key: summarise(rounds) for key, rounds in results.items()}
        for kind in methods:
            draft = summary.get((kind, "Pillow draft"), summary.get((kind, "Pillow")))[0]
            plain = summary.get((kind, "Pillow plain"), summary.get((kind, "Pillow")))[0]
            for name, _ in methods[kind]:
                rate, low, high, ratio = summary[(kind, name)]
                draft_ratio = f"{rate / draft:.2f}" if kind == "JPEG" else "-"
                print(f"{kind:<6} {name:<16} {rate:7.1f} {f'({low:.0f}-{high:.0f})':>15} {draft_ratio:>8} "
                      f"{rate / plain:8.2f} {ratio:7.3f} {peak[(kind, name)]:7.1f} MB")

        print("quality: PSNR against a Lanczos halving of the full decode (alpha over grey)")
        quality_figures = {}
        for kind in methods:
            for name, _ in methods[kind]:
                # The last round's outputs are on disk (every round writes the same bytes).
                per_file = {path: psnr(path, row[4]) for path, row in results[(kind, name)][-1].items()}
                values = list(per_file.values())
                quality_figures[(kind, name)] = (statistics.mean(values), min(values))
                worst = min(per_file, key=per_file.get)
                print(f"{kind:<6} {name:<16} mean {statistics.mean(values):5.1f} dB, min {min(values):5.1f} dB "
                      f"({pathlib.Path(worst).name})")

        big = twenty_megapixel_jpeg(jpegs, scratch)
        memory_dir = os.path.join(scratch, "memory")
        os.makedirs(memory_dir)
        _, resizer_rss = run_resizer(arguments.resizer, [big], memory_dir, quality, core)
        _, pillow_rss = run_pillow("draft", [big], memory_dir, quality, core)
        print(f"memory: 20 MP baseline JPEG (5472x3648): resizer halve peak RSS {resizer_rss:.1f} MB, "
              f"Pillow draft {pillow_rss:.1f} MB")

    png_rate = summary[("PNG", "resizer halve")][0]
    checks = []
    for variant in ("resizer halve", "resizer fitted"):
        jpeg_rate = summary[("JPEG", variant)][0]
        checks += [
            (f"{variant}: JPEG >= 1.15x Pillow draft", jpeg_rate / summary[("JPEG", "Pillow draft")][0] >= 1.15),
            (f"{variant}: JPEG >= 3.5x Pillow plain", jpeg_rate / summary[("JPEG", "Pillow plain")][0] >= 3.5),
            (f"{variant}: JPEG bytes <= Pillow draft", summary[("JPEG", variant)][3] <= summary[("JPEG", "Pillow draft")][3]),
        ]
    for kind in ("WebP", "WebPLL", "GIF", "TIFF", "BMP", "AVIF"):
        checks.append((f"{kind} >= 1.0x Pillow", summary[(kind, "resizer halve")][0] / summary[(kind, "Pillow")][0] >= 1.0))
    checks += [
        ("PNG >= 1.4x Pillow", png_rate / summary[("PNG", "Pillow")][0] >= 1.4),
        ("PNG bytes <= Pillow", summary[("PNG", "resizer halve")][3] <= summary[("PNG", "Pillow")][3]),
        ("PSNR mean >= 35 dB", min(quality_figures[(kind, "resizer halve")][0] for kind in sets) >= 35),
        ("20 MP peak RSS <= 64 MB", resizer_rss <= 64),
    ]
    print("targets:")
    for label, passed in checks:
        print(f"  {'yes' if passed else 'NO '}  {label}")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The peer of `resizer halve` in bench/resize: halves files with Pillow, timing each from the
bytes in memory to the encoded bytes (as `resizer halve` times itself), and prints one line a file:
path, milliseconds, bytes in, bytes out, input pixels, output width and height, output path.

  plain  what the original tool does: Image.resize to half, save at the given quality
  draft  JPEG shrink-on-load (Image.draft) to half size first: the fastest Pillow can do
"""
import io
import os
import sys
import time

from PIL import Image


def halve(data: bytes, mode: str, quality: int):
    image = Image.open(io.BytesIO(data))
    source_format = image.format
    width, height = image.size
    target = ((width + 1) // 2, (height + 1) // 2)
    if mode == "draft" and source_format == "JPEG":
        # Pillow picks the scale as the whole ratio of the sizes; asking for the floor lets it
        # scale odd sides by 1/2 too, which gives the ceiling size: the target.
        image.draft("RGB", (max(1, width // 2), max(1, height // 2)))
    if image.size != target:
        image = image.resize(target)  # Pillow's default filter, as the original tool calls it
    out = io.BytesIO()
    # Only for the formats converted: counting colours costs time the others must not pay.
    photo = source_format in ("TIFF", "BMP") and image.mode == "RGB" and image.getcolors(256) is None
    if source_format == "JPEG" or photo:
        image.save(out, "JPEG", quality=quality)  # a TIFF or BMP photo becomes JPEG, as `resizer halve` writes it
    elif source_format == "AVIF":
        image.save(out, "AVIF", quality=quality, speed=8)
    elif source_format == "GIF":
        image.save(out, "GIF")
    elif source_format == "WEBP":
        # Lossless stays lossless (a VP8L bitstream), as `resizer halve` keeps it.
        image.save(out, "WEBP", quality=quality, lossless=data[12:16] == b"VP8L")
    else:
        image.save(out, "PNG")
    return out.getvalue(), width * height, target


def main() -> int:
    mode, quality, out_dir, *files = sys.argv[1:]
    quality = int(quality)
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        start = time.perf_counter()
        encoded, pixels, (width, height) = halve(data, mode, quality)
        elapsed = (time.perf_counter() - start) * 1000
        extension = (".jpg" if encoded[:2] == b"\xff\xd8" else ".webp" if encoded[8:12] == b"WEBP"
                     else ".gif" if encoded[:3] == b"GIF" else ".avif" if encoded[4:12] == b"ftypavif" else ".png")
        stem = os.path.splitext(os.path.basename(path))[0]
        out_path = os.path.join(out_dir, stem + extension)
        with open(out_path, "wb") as handle:
            handle.write(encoded)
        print(f"{path}\t{elapsed:.3f}\t{len(data)}\t{len(encoded)}\t{pixels}\t{width}\t{height}\t{out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

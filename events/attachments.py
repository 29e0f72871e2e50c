"""Event photos (事件照片): checked by content, stripped of metadata, stored by their SHA-256.

A grid worker's phone sends JPEG or HEIC (iPhone), sometimes a PNG or WebP screenshot. The file
name and the declared content type are not trusted: Pillow, limited to those formats, decides
what the bytes are, and every pixel is decoded before the photo is accepted. The stored image is
re-encoded from its pixels, upright, so nothing of the original file survives — no EXIF (GPS
position, device serial numbers), XMP or comments; a colour profile is converted to sRGB rather
than kept. The GPS position and the capture time are read first and returned beside the image,
as a location hint the grid worker confirms.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

try:
    import pillow_heif
except ImportError:  # HEIC stays unsupported; the error message then says so
    HEIF_SUPPORTED = False
else:
    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True

MAX_PHOTO_BYTES: Final = 10 * 1024 * 1024
MAX_PHOTOS: Final = 9  # per report or action, as phone galleries pick them
# Decoding costs CPU by the pixel, not by the byte: a small PNG can hold 50 MP (a second of CPU).
MAX_PHOTO_PIXELS: Final = 40_000_000  # a 40 MP phone photo; a decompression bomb is far above
MAX_REQUEST_PIXELS: Final = 120_000_000  # all photos of one report: nine 12 MP phone photos fit
THUMBNAIL_PIXELS: Final = 320  # longest side of the thumbnail
JPEG_QUALITY: Final = 90
WEBP_QUALITY: Final = 90
THUMBNAIL_QUALITY: Final = 80
STORED_FILE_MODE: Final = 0o640  # photos may show people: not world-readable

_MEGABYTE: Final = 1024 * 1024
# A multi-picture JPEG (MPO) opens through the JPEG plugin.
_OPENED_FORMATS: Final = ("JPEG", "PNG", "WEBP", *(("HEIF",) if HEIF_SUPPORTED else ()))
_ACCEPTED: Final = "JPEG, PNG, WebP or HEIC" if HEIF_SUPPORTED else "JPEG, PNG or WebP"

# Pillow format → (stored format, content type, file extension). MPO is the multi-picture JPEG
# that many phones write; HEIC is stored as JPEG so that every browser can show it.
_STORED: Final[dict[str, tuple[str, str, str]]] = {
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "MPO": ("JPEG", "image/jpeg", "jpg"),
    "HEIF": ("JPEG", "image/jpeg", "jpg"),
    "PNG": ("PNG", "image/png", "png"),
    "WEBP": ("WEBP", "image/webp", "webp"),
}
_RECEIVED_TYPES: Final = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "HEIF": "image/heic",
    "PNG": "image/png",
    "WEBP": "image/webp",
}

# Leading bytes of files people send instead of a photo, to say what was sent.
_SIGNATURES: Final = (
    (b"%PDF", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive or an Office document"),
    (b"\xd0\xcf\x11\xe0", "an Office document"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"\xff\xd8\xff", "a JPEG photo"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
)
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1"})
_PHOTO_KINDS: Final = frozenset(
    {"a JPEG photo", "a PNG image", "a WebP image", *(("a HEIC photo",) if HEIF_SUPPORTED else ())}
)


class AttachmentError(ValueError):
    """A file refused as an event photo; `reason` names the check, the message says what to do.

    Reasons: empty, too_large, too_many, too_many_pixels, not_a_photo, unsupported, damaged.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PhotoInfo:
    """An accepted photo: the stripped image to store, its thumbnail and the hints it carried."""

    content_type: str  # of the stored bytes: image/jpeg, image/png or image/webp
    width: int  # of the stored image, upright
    height: int
    sha256: str  # hex digest of `stripped`, the stored bytes
    stripped: bytes = field(repr=False)
    thumbnail: bytes = field(repr=False)  # JPEG, longest side at most THUMBNAIL_PIXELS
    received_type: str = ""  # what the upload was, by content: image/heic, image/jpeg …
    gps_hint: tuple[float, float] | None = None  # (lon, lat) in WGS84, as phones write it
    taken_at: datetime | None = None  # camera clock; aware only if the photo records its offset

    @property
    def size(self) -> int:
        """Bytes of the stored image."""
        return len(self.stripped)

    @property
    def extension(self) -> str:
        """File extension of the stored image, without the dot."""
        return {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}[self.content_type]


def _megabytes(size: int, *, round_up: bool) -> str:
    """A size in MB with one decimal at most, rounded so that a size over a limit shows as over."""
    tenths = size * 10 / _MEGABYTE
    tenths = math.ceil(tenths) if round_up else math.floor(tenths)
    return f"{tenths / 10:g} MB"


def describe_content(data: bytes) -> str:
    """What the bytes look like, for messages: "a PDF", "a HEIC photo", "a video" …"""
    head = data[:64]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "a HEIC photo"
        if brand in (b"avif", b"avis"):
            return "an AVIF image"
        return "a video"
    if head[:4] == b"RIFF":
        return {b"WEBP": "a WebP image", b"AVI ": "a video", b"WAVE": "a sound recording"}.get(
            head[8:12], "a RIFF file"
        )
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    try:
        text = data[:2048].decode("utf-8")
    except UnicodeDecodeError:
        return "not a photo"
    if not all(ch.isprintable() or ch.isspace() for ch in text):
        return "not a photo"
    stripped = text.lstrip().lower()
    if stripped.startswith("<svg") or "<svg" in stripped[:512]:
        return "an SVG drawing"
    if stripped.startswith("<"):
        return "a web page or XML document"
    return "a text file"


def _not_a_photo(kind: str) -> AttachmentError:
    """The error for bytes that are no photo we take."""
    if kind == "not a photo":
        return AttachmentError("not_a_photo", f"the file is not a photo ({_ACCEPTED})")
    if kind == "a HEIC photo" and not HEIF_SUPPORTED:
        return AttachmentError(
            "unsupported",
            "the file is a HEIC photo, which this server cannot read; set the camera to "
            "'Most Compatible' or send the photo as JPEG",
        )
    return AttachmentError("not_a_photo", f"the file is {kind}, not a photo ({_ACCEPTED})")


def _damaged(kind: str) -> AttachmentError:
    """The error for a photo whose pixels cannot all be decoded."""
    what = kind.removeprefix("a ").removeprefix("an ") if kind in _PHOTO_KINDS else "photo"
    return AttachmentError(
        "damaged",
        f"the {what} is damaged or incomplete — it may have been cut off while uploading; "
        "send it again",
    )


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse images with more than max_pixels pixels before any pixel is decoded."""
    width, height = size
    if width * height > max_pixels:
        raise AttachmentError(
            "too_many_pixels",
            f"the photo is {width} × {height} pixels ({width * height / 1e6:.0f} MP); "
            f"the limit is {max_pixels / 1e6:g} MP — send a smaller photo",
        )


def _decode(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    """The fully decoded image; AttachmentError if it is no photo, too big or damaged."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_OPENED_FORMATS) as probe:
                _check_pixels(probe.size, max_pixels)
                probe.verify()
            image = Image.open(io.BytesIO(data), formats=_OPENED_FORMATS)  # verify() used it up
            image.load()
    except AttachmentError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AttachmentError(
            "too_many_pixels",
            "the photo has too many pixels to be read safely — send a smaller photo",
        ) from None
    except UnidentifiedImageError:
        raise (_damaged(kind) if kind in _PHOTO_KINDS else _not_a_photo(kind)) from None
    except MemoryError:
        raise
    except Exception:  # any decoder failure on untrusted bytes means a damaged file
        raise _damaged(kind) from None
    return image


def _dms_to_degrees(value: object, ref: object, negative: str) -> float | None:
    """Decimal degrees of an EXIF (degrees, minutes, seconds) triple and its N/S or E/W ref."""
    if not isinstance(value, tuple) or not 1 <= len(value) <= 3:
        return None
    try:
        degrees = sum(float(part) / 60.0**i for i, part in enumerate(value))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(degrees):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if not isinstance(ref, str) or ref.strip("\x00 ").upper() not in ("N", "S", "E", "W"):
        return None
    return -degrees if ref.strip("\x00 ").upper() == negative else degrees


def gps_hint_of(exif: Image.Exif) -> tuple[float, float] | None:
    """(lon, lat) in WGS84 from the EXIF GPS IFD, or None when absent, void or out of range."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if not gps:
        return None
    status = gps.get(ExifTags.GPS.GPSStatus, "A")
    if isinstance(status, bytes):
        status = status.decode("ascii", "replace")
    if isinstance(status, str) and status.strip("\x00 ").upper() == "V":
        return None
    lat = _dms_to_degrees(
        gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S"
    )
    lon = _dms_to_degrees(
        gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W"
    )
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return None
    return round(lon, 7), round(lat, 7)


def taken_at_of(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal of the photo, with OffsetTimeOriginal when present; None if unreadable."""
    details = exif.get_ifd(ExifTags.IFD.Exif)
    original = details.get(ExifTags.Base.DateTimeOriginal)
    if not isinstance(original, str):
        return None
    try:
        taken = datetime.strptime(original.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:  # "0000:00:00 00:00:00" and other placeholders
        return None
    offset = details.get(ExifTags.Base.OffsetTimeOriginal)
    if isinstance(offset, str):
        with contextlib.suppress(ValueError):  # an unreadable offset leaves the time naive
            taken = taken.replace(tzinfo=datetime.strptime(offset.strip("\x00 "), "%z").tzinfo)
    return taken


def _to_srgb(image: Image.Image) -> Image.Image:
    """The image converted to sRGB by its ICC profile (Display P3 on iPhones); as is without one."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower().replace(" ", ""):
            return image
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode=mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken profile: keep the pixels as they are
    return converted if converted is not None else image


def _has_alpha(image: Image.Image) -> bool:
    """Whether the image has transparency worth keeping."""
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _flatten(image: Image.Image) -> Image.Image:
    """An RGB image, transparent parts on white."""
    if not _has_alpha(image):
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _for_format(image: Image.Image, stored: str) -> Image.Image:
    """The image in a mode its stored format keeps faithfully."""
    if stored == "JPEG":
        return image if image.mode in ("RGB", "L") else _flatten(image)
    if stored == "PNG" and image.mode in ("RGB", "RGBA", "L", "LA", "I;16"):
        return image
    if stored == "WEBP" and image.mode in ("RGB", "RGBA"):
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _encode(image: Image.Image, stored: str) -> bytes:
    """The image encoded with no metadata at all."""
    image.info = {}  # Pillow carries comments, ICC and transparency from info into some formats
    buffer = io.BytesIO()
    if stored == "JPEG":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif stored == "PNG":
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "WEBP", quality=WEBP_QUALITY)
    return buffer.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    """A JPEG thumbnail whose longest side is at most THUMBNAIL_PIXELS; shrinks `image`."""
    image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS), Image.Resampling.LANCZOS, reducing_gap=3)
    small = image if image.mode in ("RGB", "L") else _flatten(image)
    small.info = {}
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue()


def inspect_photo(
    data: bytes, *, max_bytes: int = MAX_PHOTO_BYTES, max_pixels: int = MAX_PHOTO_PIXELS
) -> PhotoInfo:
    """Check an uploaded photo by content and prepare it for storage; AttachmentError if refused."""
    if not data:
        raise AttachmentError("empty", "the file is empty; take the photo again")
    if len(data) > max_bytes:
        raise AttachmentError(
            "too_large",
            f"the photo is {_megabytes(len(data), round_up=True)}; the limit is "
            f"{_megabytes(max_bytes, round_up=False)} — send a smaller photo",
        )
    kind = describe_content(data)
    image = _decode(data, kind, max_pixels)
    received = image.format or ""
    stored, content_type, _ = _STORED[received]

    try:
        exif = image.getexif()
        gps_hint, taken_at = gps_hint_of(exif), taken_at_of(exif)
    except Exception:  # metadata is only a hint: a mangled EXIF block never refuses a photo
        gps_hint, taken_at = None, None
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:
        upright = image.copy()
    if upright is not image:
        image.close()

    prepared = _for_format(_to_srgb(upright), stored)
    stripped = _encode(prepared, stored)
    width, height = prepared.size
    return PhotoInfo(
        content_type=content_type,
        width=width,
        height=height,
        sha256=hashlib.sha256(stripped).hexdigest(),
        stripped=stripped,
        thumbnail=_thumbnail(prepared),
        received_type=_RECEIVED_TYPES[received],
        gps_hint=gps_hint,
        taken_at=taken_at,
    )


def _header_pixels(data: bytes) -> int:
    """Pixels of an image by its header alone (nothing decoded); 0 when it cannot be read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_OPENED_FORMATS) as probe:
                width, height = probe.size
    except Exception:  # not an image we take: inspect_photo says what it is
        return 0
    return width * height


def check_photo_budget(
    photos: list[bytes],
    *,
    max_photos: int = MAX_PHOTOS,
    max_pixels: int = MAX_PHOTO_PIXELS,
    max_total_pixels: int = MAX_REQUEST_PIXELS,
) -> None:
    """Refuse too many photos, or more pixels than one request may decode, before decoding any."""
    if len(photos) > max_photos:
        raise AttachmentError(
            "too_many",
            f"{len(photos)} photos were sent; at most {max_photos} fit in one report or action "
            "— leave some out",
        )
    total = 0
    for number, data in enumerate(photos, start=1):
        pixels = _header_pixels(data)
        if pixels > max_pixels:
            raise AttachmentError(
                "too_many_pixels",
                f"photo {number} has {pixels / 1e6:.0f} MP; the limit is {max_pixels / 1e6:g} MP "
                "per photo — send a smaller photo",
            )
        total += pixels
    if total > max_total_pixels:
        raise AttachmentError(
            "too_many_pixels",
            f"the {len(photos)} photos have {total / 1e6:.0f} MP together; one request may "
            f"carry {max_total_pixels / 1e6:g} MP — send fewer or smaller photos",
        )


def inspect_photos(photos: list[bytes], *, max_bytes: int = MAX_PHOTO_BYTES) -> list[PhotoInfo]:
    """Check the photos of one request: count and pixel budget first, then each by content."""
    check_photo_budget(photos)
    return [inspect_photo(data, max_bytes=max_bytes) for data in photos]


def thumbnail_path(photo: Path) -> Path:
    """Where store_photo keeps the thumbnail of the photo stored at `photo`."""
    return photo.with_name(f"{photo.name.split('.', 1)[0]}.thumb.jpg")


def _fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _write_once(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename, unless it already exists."""
    if path.exists():
        return  # content-addressed: the same name holds the same bytes
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, STORED_FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def store_photo(info: PhotoInfo, *, directory: Path) -> Path:
    """Write <dir>/<sha[:2]>/<sha>.<ext> and its <sha>.thumb.jpg once; returns the photo path."""
    digest = hashlib.sha256(info.stripped).hexdigest()
    if digest != info.sha256:
        raise ValueError(
            f"the photo's sha256 {info.sha256[:12]}… does not match its bytes ({digest[:12]}…); "
            "build PhotoInfo with inspect_photo"
        )
    folder = directory / digest[:2]
    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / f"{digest}.{info.extension}"
    _write_once(photo, info.stripped)
    _write_once(thumbnail_path(photo), info.thumbnail)
    return photo

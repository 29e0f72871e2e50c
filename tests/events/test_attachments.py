"""Specification of event photo intake: type by content, metadata stripped, stored by digest."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from events.attachments import (
    HEIF_SUPPORTED,
    MAX_PHOTO_BYTES,
    MAX_PHOTOS,
    AttachmentError,
    PhotoInfo,
    check_photo_budget,
    describe_content,
    inspect_photo,
    inspect_photos,
    store_photo,
    thumbnail_path,
)

ACCEPTED = "JPEG, PNG, WebP or HEIC" if HEIF_SUPPORTED else "JPEG, PNG or WebP"
RED, BLUE = (255, 0, 0), (0, 0, 255)

# Yichang, 西陵区: 30°42'36"N 111°17'24"E.
YICHANG_DMS = {"lat": (30.0, 42.0, 36.0), "lon": (111.0, 17.0, 24.0)}


def make_exif(
    *,
    orientation: int | None = None,
    lat: tuple[float, ...] | None = None,
    lat_ref: str = "N",
    lon: tuple[float, ...] | None = None,
    lon_ref: str = "E",
    gps_status: str | None = None,
    taken: str | None = None,
    offset: str | None = None,
) -> Image.Exif:
    """An EXIF block as a phone camera writes it, built with Pillow's own Exif API."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if lat is not None and lon is not None:
        gps: dict[int, object] = {
            ExifTags.GPS.GPSLatitudeRef: lat_ref,
            ExifTags.GPS.GPSLatitude: lat,
            ExifTags.GPS.GPSLongitudeRef: lon_ref,
            ExifTags.GPS.GPSLongitude: lon,
        }
        if gps_status is not None:
            gps[ExifTags.GPS.GPSStatus] = gps_status
        exif[ExifTags.IFD.GPSInfo] = gps
    details: dict[int, str] = {}
    if taken is not None:
        details[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    if details:
        exif[ExifTags.IFD.Exif] = details
    return exif


def two_colour(width: int = 40, height: int = 20, mode: str = "RGB") -> Image.Image:
    """An image whose left half is red and right half blue, to see rotations."""
    image = Image.new(mode, (width, height), RED if mode == "RGB" else (*RED, 255))
    image.paste(BLUE if mode == "RGB" else (*BLUE, 255), (width // 2, 0, width, height))
    return image


def encode(image: Image.Image, format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **params)
    return buffer.getvalue()


def jpeg(image: Image.Image | None = None, **params: object) -> bytes:
    return encode(image or two_colour(), "JPEG", quality=95, **params)


def noisy(width: int, height: int) -> Image.Image:
    """An image that does not compress well, like a real photo."""
    return Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def refusal(data: bytes, **limits: int) -> AttachmentError:
    """The error inspect_photo raises for data; fails the test if the photo is accepted."""
    with pytest.raises(AttachmentError) as caught:
        inspect_photo(data, **limits)
    return caught.value


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The channel values of one pixel."""
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value


def assert_colour(actual: tuple[int, ...], expected: tuple[int, int, int]) -> None:
    assert all(abs(a - e) < 40 for a, e in zip(actual[:3], expected, strict=True)), actual


# Location and time hints


def test_exif_gps_in_degrees_minutes_seconds_becomes_a_lon_lat_hint() -> None:
    info = inspect_photo(jpeg(exif=make_exif(lat=YICHANG_DMS["lat"], lon=YICHANG_DMS["lon"])))
    assert info.gps_hint == pytest.approx((111.29, 30.71), abs=1e-7)


def test_gps_in_degrees_and_decimal_minutes_is_read_too() -> None:
    info = inspect_photo(jpeg(exif=make_exif(lat=(30.0, 42.6, 0.0), lon=(111.0, 17.4, 0.0))))
    assert info.gps_hint == pytest.approx((111.29, 30.71), abs=1e-7)


def test_southern_and_western_references_give_negative_coordinates() -> None:
    exif = make_exif(lat=(33.0, 52.0, 12.0), lat_ref="S", lon=(70.0, 40.0, 0.0), lon_ref="W")
    lon, lat = inspect_photo(jpeg(exif=exif)).gps_hint or (0.0, 0.0)
    assert lon == pytest.approx(-70.666667, abs=1e-6)
    assert lat == pytest.approx(-33.87, abs=1e-6)


@pytest.mark.parametrize(
    "exif",
    [
        make_exif(),
        make_exif(lat=(0.0, 0.0, 0.0), lon=(0.0, 0.0, 0.0)),
        make_exif(lat=YICHANG_DMS["lat"], lon=YICHANG_DMS["lon"], gps_status="V"),
        make_exif(lat=(95.0, 0.0, 0.0), lon=YICHANG_DMS["lon"]),
        make_exif(lat=YICHANG_DMS["lat"], lat_ref="Q", lon=YICHANG_DMS["lon"]),
    ],
    ids=["no-gps", "null-island", "void-fix", "latitude-out-of-range", "unknown-reference"],
)
def test_missing_void_or_impossible_gps_gives_no_hint(exif: Image.Exif) -> None:
    assert inspect_photo(jpeg(exif=exif)).gps_hint is None


def test_capture_time_is_the_date_time_original_on_the_camera_clock() -> None:
    info = inspect_photo(jpeg(exif=make_exif(taken="2024:05:01 09:30:15")))
    assert info.taken_at == datetime(2024, 5, 1, 9, 30, 15)
    assert info.taken_at.tzinfo is None


def test_capture_time_is_aware_when_the_photo_records_its_utc_offset() -> None:
    info = inspect_photo(jpeg(exif=make_exif(taken="2024:05:01 09:30:15", offset="+08:00")))
    assert info.taken_at == datetime(2024, 5, 1, 9, 30, 15, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize("taken", [None, "0000:00:00 00:00:00", "yesterday"])
def test_absent_or_placeholder_capture_time_gives_none(taken: str | None) -> None:
    assert inspect_photo(jpeg(exif=make_exif(taken=taken))).taken_at is None


# What is stored


def test_stored_photo_has_no_exif_gps_or_xmp_left() -> None:
    exif = make_exif(
        orientation=1, lat=YICHANG_DMS["lat"], lon=YICHANG_DMS["lon"], taken="2024:05:01 09:30:15"
    )
    original = jpeg(exif=exif, xmp=b"<x:xmpmeta>GPSLatitude</x:xmpmeta>", comment=b"serial 42")
    info = inspect_photo(original)
    stored = reopen(info.stripped)
    assert not stored.getexif()
    assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "comment", "icc_profile"} & stored.info.keys()
    assert b"Exif\x00\x00" not in info.stripped and b"TestPhone" not in info.stripped
    assert b"xmpmeta" not in info.stripped and b"serial 42" not in info.stripped
    assert b"Exif\x00\x00" not in info.thumbnail


def test_orientation_6_photo_is_stored_rotated_upright() -> None:
    # Orientation 6: the camera was turned a quarter clockwise; viewers rotate 90° clockwise,
    # so the stored left half (red) ends up on top.
    info = inspect_photo(jpeg(two_colour(40, 20), exif=make_exif(orientation=6)))
    stored = reopen(info.stripped)
    assert (info.width, info.height) == stored.size == (20, 40)
    assert_colour(pixel(stored, (10, 5)), RED)
    assert_colour(pixel(stored, (10, 35)), BLUE)
    assert stored.getexif().get(ExifTags.Base.Orientation) is None


def test_upright_photo_is_not_rotated() -> None:
    info = inspect_photo(jpeg(two_colour(40, 20), exif=make_exif(orientation=1)))
    assert (info.width, info.height) == (40, 20)


def test_sha256_is_the_digest_of_the_stored_bytes() -> None:
    info = inspect_photo(jpeg())
    assert info.sha256 == hashlib.sha256(info.stripped).hexdigest()
    assert info.size == len(info.stripped)


def test_same_photo_gives_the_same_digest() -> None:
    data = jpeg(exif=make_exif(lat=YICHANG_DMS["lat"], lon=YICHANG_DMS["lon"]))
    assert inspect_photo(data).sha256 == inspect_photo(data).sha256


def test_jpeg_is_stored_as_jpeg() -> None:
    info = inspect_photo(jpeg())
    assert (info.content_type, info.received_type, info.extension) == (
        "image/jpeg",
        "image/jpeg",
        "jpg",
    )
    assert reopen(info.stripped).format == "JPEG"


def test_png_stays_png_and_keeps_its_transparency() -> None:
    image = two_colour(mode="RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))
    info = inspect_photo(encode(image, "PNG"))
    stored = reopen(info.stripped)
    assert (info.content_type, info.extension, stored.format) == ("image/png", "png", "PNG")
    assert stored.mode == "RGBA" and pixel(stored, (0, 0))[3] == 0


def test_png_text_chunks_and_exif_are_dropped() -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "taken at home")
    data = encode(
        two_colour(),
        "PNG",
        pnginfo=text,
        exif=make_exif(lat=(30.0, 42.0, 36.0), lon=(111.0, 17.0, 24.0)),
    )
    info = inspect_photo(data)
    stored = reopen(info.stripped)
    assert info.gps_hint == pytest.approx((111.29, 30.71))
    assert "Comment" not in stored.info and not stored.getexif()
    assert b"taken at home" not in info.stripped


def test_palette_png_with_transparency_keeps_it() -> None:
    image = Image.new("P", (10, 10), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    info = inspect_photo(encode(image, "PNG", transparency=0))
    stored = reopen(info.stripped)
    assert pixel(stored.convert("RGBA"), (0, 0))[3] == 0
    assert pixel(stored.convert("RGBA"), (5, 5)) == (255, 0, 0, 255)


def test_webp_stays_webp() -> None:
    info = inspect_photo(encode(two_colour(), "WEBP", exif=make_exif(orientation=6)))
    stored = reopen(info.stripped)
    assert (info.content_type, info.extension, stored.format) == ("image/webp", "webp", "WEBP")
    assert stored.size == (20, 40) and not stored.getexif()


def test_colour_profile_is_applied_not_kept() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    info = inspect_photo(jpeg(icc_profile=srgb))
    assert "icc_profile" not in reopen(info.stripped).info


def test_cmyk_jpeg_is_stored_as_rgb() -> None:
    info = inspect_photo(jpeg(Image.new("CMYK", (16, 16), (0, 255, 255, 0))))
    stored = reopen(info.stripped)
    assert stored.mode == "RGB"
    assert_colour(pixel(stored, (8, 8)), RED)


def test_multi_picture_jpeg_from_a_phone_is_stored_as_one_jpeg() -> None:
    buffer = io.BytesIO()
    two_colour().save(buffer, "MPO", save_all=True, append_images=[Image.new("RGB", (40, 20))])
    info = inspect_photo(buffer.getvalue())
    stored = reopen(info.stripped)
    assert info.content_type == "image/jpeg"
    assert stored.format == "JPEG" and getattr(stored, "n_frames", 1) == 1


@pytest.mark.skipif(not HEIF_SUPPORTED, reason="pillow-heif is not installed")
def test_heic_photo_is_read_and_stored_as_jpeg() -> None:
    exif = make_exif(lat=YICHANG_DMS["lat"], lon=YICHANG_DMS["lon"], taken="2024:05:01 09:30:15")
    info = inspect_photo(encode(two_colour(64, 48), "HEIF", exif=exif))
    stored = reopen(info.stripped)
    assert (info.received_type, info.content_type, stored.format) == (
        "image/heic",
        "image/jpeg",
        "JPEG",
    )
    assert stored.size == (64, 48) and not stored.getexif()
    assert info.gps_hint == pytest.approx((111.29, 30.71))
    assert info.taken_at == datetime(2024, 5, 1, 9, 30, 15)


# Thumbnails


def test_thumbnail_is_a_jpeg_no_larger_than_320_pixels() -> None:
    info = inspect_photo(jpeg(noisy(1200, 900)))
    thumbnail = reopen(info.thumbnail)
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == (320, 240)
    assert (info.width, info.height) == (1200, 900)


def test_thumbnail_of_a_rotated_photo_is_upright() -> None:
    info = inspect_photo(jpeg(two_colour(800, 400), exif=make_exif(orientation=6)))
    thumbnail = reopen(info.thumbnail)
    assert thumbnail.size == (160, 320)
    assert_colour(pixel(thumbnail, (80, 20)), RED)


def test_thumbnail_of_a_small_photo_is_not_enlarged() -> None:
    assert reopen(inspect_photo(jpeg()).thumbnail).size == (40, 20)


def test_thumbnail_of_a_transparent_png_is_on_white() -> None:
    info = inspect_photo(encode(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "PNG"))
    assert_colour(pixel(reopen(info.thumbnail), (5, 5)), (255, 255, 255))


# Refusals


def test_too_large_photo_is_refused_with_its_size_and_the_limit() -> None:
    error = refusal(b"\xff\xd8\xff" + bytes(int(12.4 * 1024 * 1024) - 3))
    assert error.reason == "too_large"
    assert str(error) == "the photo is 12.4 MB; the limit is 10 MB — send a smaller photo"


def test_a_photo_one_byte_over_the_limit_does_not_read_as_equal_to_it() -> None:
    assert "is 10.1 MB; the limit is 10 MB" in str(refusal(bytes(MAX_PHOTO_BYTES + 1)))


def test_the_size_limit_can_be_lowered() -> None:
    data = jpeg(noisy(200, 200))
    assert refusal(data, max_bytes=1024).reason == "too_large"


def test_empty_upload_is_refused() -> None:
    assert str(refusal(b"")) == "the file is empty; take the photo again"


def test_pdf_is_refused_saying_it_is_a_pdf() -> None:
    error = refusal(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    assert error.reason == "not_a_photo"
    assert str(error) == f"the file is a PDF, not a photo ({ACCEPTED})"


def test_random_bytes_are_refused_as_not_a_photo() -> None:
    error = refusal(random.Random(1).randbytes(4096))
    assert str(error) == f"the file is not a photo ({ACCEPTED})"


def test_truncated_jpeg_is_refused_as_damaged() -> None:
    whole = jpeg(noisy(400, 300))
    error = refusal(whole[: len(whole) // 2])
    assert error.reason == "damaged"
    assert str(error) == (
        "the JPEG photo is damaged or incomplete — it may have been cut off while uploading; "
        "send it again"
    )


def test_jpeg_header_alone_is_refused_as_damaged() -> None:
    assert refusal(jpeg()[:20]).reason == "damaged"


def test_png_with_a_corrupted_chunk_is_refused_as_damaged() -> None:
    data = bytearray(encode(noisy(50, 50), "PNG"))
    data[60] ^= 0xFF  # inside the image data: its CRC no longer matches
    assert "the PNG image is damaged" in str(refusal(bytes(data)))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (encode(two_colour(), "GIF"), "a GIF image"),
        (encode(two_colour(), "BMP"), "a BMP image"),
        (encode(two_colour(), "TIFF"), "a TIFF image"),
        (b"PK\x03\x04" + bytes(100), "a ZIP archive or an Office document"),
        (b"<html><body>photo</body></html>", "a web page or XML document"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64), "a video"),
    ],
    ids=["gif", "bmp", "tiff", "zip", "html", "mp4"],
)
def test_other_files_are_refused_naming_what_they_are(data: bytes, kind: str) -> None:
    assert str(refusal(data)) == f"the file is {kind}, not a photo ({ACCEPTED})"


def test_huge_pixel_count_is_refused_before_decoding() -> None:
    # 10000 × 6000 one-bit pixels compress to a few kilobytes: a decompression bomb in small.
    bomb = encode(Image.new("1", (10_000, 6_000)), "PNG")
    assert len(bomb) < 100_000
    error = refusal(bomb)
    assert error.reason == "too_many_pixels"
    assert str(error) == (
        "the photo is 10000 × 6000 pixels (60 MP); the limit is 40 MP — send a smaller photo"
    )


def test_pixel_count_beyond_what_pillow_will_open_is_refused_too() -> None:
    bomb = encode(Image.new("1", (20_000, 10_000)), "PNG")
    error = refusal(bomb, max_pixels=500_000_000)
    assert error.reason == "too_many_pixels"
    assert "too many pixels to be read safely" in str(error)


def test_the_pixel_limit_can_be_lowered() -> None:
    assert refusal(jpeg(noisy(100, 100)), max_pixels=5_000).reason == "too_many_pixels"


def flat_png(width: int, height: int) -> bytes:
    """A one-colour PNG: a few kilobytes on disk however many pixels it holds."""
    return encode(Image.new("1", (width, height)), "PNG")


def test_a_small_50_megapixel_png_is_refused_without_decoding_a_pixel(monkeypatch) -> None:
    def no_decoding(self: Image.Image) -> None:
        raise AssertionError("a pixel was decoded")

    small, big = jpeg(), flat_png(10_000, 5_000)
    assert len(big) < 100_000
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "verify", no_decoding)
    with pytest.raises(AttachmentError) as caught:
        inspect_photos([small, big])
    assert caught.value.reason == "too_many_pixels"
    assert str(caught.value) == (
        "photo 2 has 50 MP; the limit is 40 MP per photo — send a smaller photo"
    )


def test_more_photos_than_a_report_holds_are_refused_before_any_is_read() -> None:
    with pytest.raises(AttachmentError) as caught:
        check_photo_budget([b"not even an image"] * 12)
    assert caught.value.reason == "too_many"
    assert "12 photos were sent; at most 9" in str(caught.value)
    check_photo_budget([jpeg()] * MAX_PHOTOS)  # the other side: nine fit


def test_the_photos_of_one_request_share_a_pixel_budget() -> None:
    twelve_mp = flat_png(4_000, 3_000)
    check_photo_budget([twelve_mp] * 9)  # nine 12 MP phone photos: 108 MP fit
    thirty_five_mp = flat_png(7_000, 5_000)
    with pytest.raises(AttachmentError) as caught:
        check_photo_budget([thirty_five_mp] * 4)  # each fits; together 140 MP do not
    assert caught.value.reason == "too_many_pixels"
    assert "140 MP together" in str(caught.value)


def test_attachment_errors_are_value_errors() -> None:
    assert isinstance(refusal(b"%PDF-1.4"), ValueError)


def test_content_is_described_by_its_bytes_not_a_name() -> None:
    assert describe_content(jpeg()) == "a JPEG photo"
    assert describe_content(encode(two_colour(), "PNG")) == "a PNG image"
    assert describe_content(encode(two_colour(), "WEBP")) == "a WebP image"
    assert describe_content(b"\x00\x00\x00\x18ftypheic" + bytes(16)) == "a HEIC photo"
    assert describe_content(b"just some notes") == "a text file"


# Storage


def test_store_photo_writes_the_photo_and_its_thumbnail_under_the_digest(tmp_path: Path) -> None:
    info = inspect_photo(jpeg())
    path = store_photo(info, directory=tmp_path)
    assert path == tmp_path / info.sha256[:2] / f"{info.sha256}.jpg"
    assert path.read_bytes() == info.stripped
    assert hashlib.sha256(path.read_bytes()).hexdigest() == info.sha256
    thumbnail = tmp_path / info.sha256[:2] / f"{info.sha256}.thumb.jpg"
    assert thumbnail_path(path) == thumbnail
    assert thumbnail.read_bytes() == info.thumbnail


def test_storing_the_same_photo_twice_changes_nothing(tmp_path: Path) -> None:
    info = inspect_photo(encode(two_colour(), "PNG"))
    first = store_photo(info, directory=tmp_path)
    written = first.stat().st_mtime_ns
    second = store_photo(info, directory=tmp_path)
    assert second == first and first.suffix == ".png"
    assert first.stat().st_mtime_ns == written
    assert sorted(p.name for p in first.parent.iterdir()) == [
        f"{info.sha256}.png",
        f"{info.sha256}.thumb.jpg",
    ]


def test_a_missing_thumbnail_is_written_on_the_next_store(tmp_path: Path) -> None:
    info = inspect_photo(jpeg())
    path = store_photo(info, directory=tmp_path)
    thumbnail_path(path).unlink()
    store_photo(info, directory=tmp_path)
    assert thumbnail_path(path).read_bytes() == info.thumbnail


def test_stored_photos_are_not_world_readable(tmp_path: Path) -> None:
    path = store_photo(inspect_photo(jpeg()), directory=tmp_path)
    assert path.stat().st_mode & 0o007 == 0


def test_store_photo_refuses_a_digest_that_does_not_match_the_bytes(tmp_path: Path) -> None:
    info = inspect_photo(jpeg())
    forged = PhotoInfo(
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        sha256="../" + info.sha256[3:],
        stripped=info.stripped,
        thumbnail=info.thumbnail,
    )
    with pytest.raises(ValueError, match="does not match its bytes"):
        store_photo(forged, directory=tmp_path)
    assert not any(tmp_path.iterdir())

"""Grid, building and part files: GeoJSON, GeoPackage, Shapefile and CSV (WKT, or lon/lat
columns for points), read and written.

Files are written in CGCS2000 lon/lat (EPSG:4490). Files are read in whatever system they
declare and returned in EPSG:4490; a file that declares none (CSV, a shapefile without .prj)
or declares plain lon/lat (GeoJSON always says WGS84) is taken to be in the `crs` the caller
names, so GCJ-02/BD-09 exports from Gaode or Baidu tools can be corrected on the way in.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyproj
import shapely
import shapely.errors
from numpy.typing import NDArray
from pyproj.exceptions import CRSError
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from gis import export_guard
from gis.crs import CoordinateError, Crs, parse_crs, to_storage_many
from gis.db import STORAGE_SRID
from gis.geometry import GeometryError, parse_geometry, validate_lon_lat_bounds
from grid.exceptions import InvalidQuery, UnreadableFile, UnsupportedFormat
from grid.models import Building, Grid
from grid.service import area_prefix, within_districts

__all__ = [
    "BUILDING_COLUMNS",
    "GRID_COLUMNS",
    "FeatureFile",
    "FileFormat",
    "export_buildings",
    "export_grids",
    "features_from_frame",
    "file_format",
    "read_feature_file",
    "read_features",
    "write_features",
]

GeometryArray = NDArray[np.object_]


class FileFormat(enum.StrEnum):
    """A vector file format, chosen by the file's suffix."""

    GEOJSON = "GeoJSON"
    GEOPACKAGE = "GPKG"
    SHAPEFILE = "ESRI Shapefile"
    CSV = "CSV"  # one row per feature, geometry as WKT in a column named WKT


SUFFIXES: Final[dict[str, FileFormat]] = {
    ".geojson": FileFormat.GEOJSON,
    ".json": FileFormat.GEOJSON,
    ".gpkg": FileFormat.GEOPACKAGE,
    ".shp": FileFormat.SHAPEFILE,
    ".csv": FileFormat.CSV,
}

GRID_COLUMNS: Final = ("code", "name", "community_code", "grid_type", "households")
BUILDING_COLUMNS: Final = ("code", "name", "address", "floors", "use", "grid_code")

# dBase field names hold at most 10 characters; longer ones get these names in shapefiles.
SHAPEFILE_NAMES: Final[dict[str, str]] = {"community_code": "comm_code"}

# Lon/lat systems read as the caller's `crs` (GeoJSON declares 4326 whatever the data is).
_LON_LAT_EPSG: Final = frozenset({4326, 4490})
# Columns a CSV file may keep its WKT geometry in, matched ignoring case.
_WKT_COLUMNS: Final = ("wkt", "geometry", "geom", "the_geom", "wkt_geom", "shape")
# Or, for points (city parts), lon and lat columns.
_LON_COLUMNS: Final = ("lon", "lng", "longitude", "经度", "pointx")
_LAT_COLUMNS: Final = ("lat", "latitude", "纬度", "pointy")


def file_format(path: str | Path) -> FileFormat:
    """The format a path's suffix names; raise UnsupportedFormat naming the accepted suffixes."""
    suffix = Path(path).suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    accepted = ", ".join(SUFFIXES)
    shown = f"suffix '{suffix}'" if suffix else "no suffix"
    raise UnsupportedFormat(
        f"{Path(path).name} has {shown}; use one of {accepted} "
        "(GeoJSON, GeoPackage, Shapefile, CSV with a WKT column)."
    )


# --- writing ------------------------------------------------------------------------------


def write_features(frame: gpd.GeoDataFrame, path: str | Path) -> int:
    """Write `frame` (EPSG:4490 lon/lat) to `path` in the format its suffix names; return its size.

    Shapefiles get their long field names shortened (see SHAPEFILE_NAMES) and a .cpg saying
    UTF-8 so Chinese text survives; CSV files carry the geometry as WKT in the first column.
    """
    path = Path(path)
    fmt = file_format(path)
    if frame.crs is None or frame.crs.to_epsg() != STORAGE_SRID:
        raise ValueError("write_features expects a GeoDataFrame in EPSG:4490")
    options: dict[str, Any] = {}
    if fmt is FileFormat.SHAPEFILE:
        frame = frame.rename(columns=SHAPEFILE_NAMES)
        options["encoding"] = "UTF-8"  # writes the .cpg sidecar
    elif fmt is FileFormat.CSV:
        options["layer_options"] = {"GEOMETRY": "AS_WKT", "WRITE_BOM": "YES"}
        # A CSV is opened in Excel: a building named "=HYPERLINK(...)" must stay text.
        frame = frame.copy()
        for name in frame.columns.drop(frame.geometry.name):
            if not pd.api.types.is_numeric_dtype(frame[name]):
                frame[name] = frame[name].map(export_guard.neutralise)
    _remove_existing(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(
        frame,
        path,
        driver=fmt.value,
        geometry_type="MultiPolygon",
        promote_to_multi=True,
        **options,
    )
    return len(frame)


def _remove_existing(path: Path, fmt: FileFormat) -> None:
    """Delete an earlier export (with a shapefile's sidecars) so the new one replaces it."""
    if fmt is FileFormat.SHAPEFILE:
        for sidecar in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix"):
            path.with_suffix(sidecar).unlink(missing_ok=True)
    else:
        path.unlink(missing_ok=True)


def _frame(rows: list[Any], columns: tuple[str, ...], integers: set[str]) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:4490 from (attributes…, WKB) rows."""
    data: dict[str, Any] = {}
    for i, name in enumerate(columns):
        values = [r[i] for r in rows]
        values = [v.value if isinstance(v, enum.Enum) else v for v in values]
        data[name] = pd.array(values, dtype="Int64" if name in integers else object)
    wkb = np.array([bytes(r[len(columns)]) for r in rows], dtype=object)
    geometry = shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=f"EPSG:{STORAGE_SRID}")


def _area_filter(stmt: Select[Any], *columns: Any, area_code: str | None) -> Select[Any]:
    if area_code is None:
        return stmt
    prefix = area_prefix(area_code)
    return stmt.where(or_(*(column.like(prefix + "%") for column in columns)))


def export_grids(
    session: Session,
    *,
    path: str | Path,
    area_code: str | None = None,
    districts: Sequence[str] | None = None,
) -> int:
    """Write the grids (optionally those under a district/street/community code, and only
    those of `districts` when given) to `path`.

    The format follows the suffix; geometry is EPSG:4490 lon/lat. Returns the feature count.
    """
    file_format(path)  # refuse a bad suffix before querying
    stmt = select(
        Grid.code,
        Grid.name,
        Grid.community_code,
        Grid.grid_type,
        Grid.households,
        func.ST_AsBinary(Grid.geom),
    ).order_by(Grid.code)
    stmt = _area_filter(stmt, Grid.code, area_code=area_code).where(
        within_districts(Grid.district_code, districts)
    )
    rows = list(session.execute(stmt).all())
    return write_features(_frame(rows, GRID_COLUMNS, {"households"}), path)


def export_buildings(
    session: Session,
    *,
    path: str | Path,
    area_code: str | None = None,
    districts: Sequence[str] | None = None,
) -> int:
    """Write the buildings (optionally those under an area code, and only those of `districts`
    when given) to `path`; returns the count.

    A 6-digit district filter also exports that district's buildings outside every grid.
    """
    file_format(path)
    stmt = select(
        Building.code,
        Building.name,
        Building.address,
        Building.floors,
        Building.use,
        Building.grid_code,
        func.ST_AsBinary(Building.geom),
    ).order_by(Building.code)
    stmt = _area_filter(stmt, Building.grid_code, Building.district_code, area_code=area_code)
    stmt = stmt.where(within_districts(Building.district_code, districts))
    rows = list(session.execute(stmt).all())
    return write_features(_frame(rows, BUILDING_COLUMNS, {"floors"}), path)


# --- reading ------------------------------------------------------------------------------


@dataclass
class FeatureFile:
    """Features read from a file: attributes, geometries in EPSG:4490, and read-time problems.

    `attributes` has one row per feature in file order (index 0..n-1) with lower-case column
    names; `geometries` holds shapely geometries (2D) or None where none could be read;
    `problems` maps a feature's index to a sentence saying why its geometry is unusable.
    """

    attributes: pd.DataFrame
    geometries: GeometryArray
    problems: dict[int, str] = field(default_factory=dict)
    source_crs: str = "EPSG:4490"

    def __len__(self) -> int:
        return len(self.attributes)

    def to_frame(self) -> gpd.GeoDataFrame:
        """The features as a GeoDataFrame in EPSG:4490; problems kept in attrs["problems"]."""
        frame = gpd.GeoDataFrame(
            self.attributes.copy(), geometry=self.geometries, crs=f"EPSG:{STORAGE_SRID}"
        )
        frame.attrs["problems"] = dict(self.problems)
        return frame


def read_features(path: str | Path, *, crs: Crs | str = Crs.CGCS2000) -> gpd.GeoDataFrame:
    """Read every feature of the file at `path` as a GeoDataFrame in EPSG:4490.

    CRS handling as in `read_feature_file`. A feature whose geometry could not be read or
    placed has geometry None, and the reason in ``frame.attrs["problems"][index]``.
    """
    return read_feature_file(path, crs=crs).to_frame()


def read_feature_file(path: str | Path, *, crs: Crs | str = Crs.CGCS2000) -> FeatureFile:
    """Read every feature of the file at `path` and bring its geometry to EPSG:4490.

    A file declaring a projected or other system (e.g. a Gauss-Krüger EPSG:4546 shapefile)
    is transformed; one without a system, or in WGS84/CGCS2000 lon/lat, is taken to be
    lon/lat in `crs` (cgcs2000/wgs84 as is, gcj02/bd09 converted).
    """
    path = Path(path)
    fmt = file_format(path)
    try:
        lon_lat_crs = parse_crs(crs)
    except CoordinateError as exc:
        raise InvalidQuery(str(exc)) from exc
    if not path.exists():
        raise UnreadableFile(f"{path} does not exist; check the path.")
    meta, wkb, fields = _read_raw(path, fmt)
    attributes = pd.DataFrame(
        {
            str(name).strip().lower(): values
            for name, values in zip(meta["fields"], fields, strict=True)
        }
    )
    if fmt is FileFormat.SHAPEFILE:
        attributes = attributes.rename(columns={v: k for k, v in SHAPEFILE_NAMES.items()})
        # GDAL cuts long names to 10 characters when the writer did not shorten them.
        attributes = attributes.rename(columns={k[:10]: k for k in SHAPEFILE_NAMES})
    problems: dict[int, str] = {}
    if fmt is FileFormat.CSV:
        # Our CSV exports guard formula-like text with an apostrophe; reading one undoes it.
        for name in attributes.columns:
            if not pd.api.types.is_numeric_dtype(attributes[name]):
                attributes[name] = attributes[name].map(export_guard.restore)
        geometries = _csv_geometries(path, attributes, problems)
    else:
        geometries = _wkb_geometries(wkb, problems)
    declared = _declared_crs(path.name, meta.get("crs"))
    if declared is not None and lon_lat_crs not in (Crs.CGCS2000, Crs.WGS84):
        raise InvalidQuery(
            f"{path.name} declares its coordinate system ({declared.name}); the crs "
            f"'{lon_lat_crs.value}' only applies to lon/lat files that declare none. "
            "Leave crs at cgcs2000."
        )
    return _to_storage(attributes, geometries, problems, declared, lon_lat_crs)


def features_from_frame(frame: gpd.GeoDataFrame) -> FeatureFile:
    """A FeatureFile from an in-memory GeoDataFrame; no CRS or lon/lat means EPSG:4490."""
    declared = _declared_crs("the data", frame.crs)
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name)).reset_index(drop=True)
    attributes.columns = [str(c).strip().lower() for c in attributes.columns]
    geometries = np.asarray(frame.geometry.array, dtype=object)
    return _to_storage(attributes, geometries, {}, declared, Crs.CGCS2000)


def _to_storage(
    attributes: pd.DataFrame,
    geometries: GeometryArray,
    problems: dict[int, str],
    declared: pyproj.CRS | None,
    lon_lat_crs: Crs,
) -> FeatureFile:
    if shapely.has_z(geometries).any():
        geometries = shapely.force_2d(geometries)
    if declared is None:
        geometries = _from_lon_lat(geometries, lon_lat_crs, problems)
        source = "EPSG:4490" if lon_lat_crs in (Crs.CGCS2000, Crs.WGS84) else lon_lat_crs.value
    else:
        geometries = _from_declared(geometries, declared, problems)
        source = declared.to_string()
    return FeatureFile(attributes, geometries, problems, source)


def _read_raw(path: Path, fmt: FileFormat) -> tuple[dict[str, Any], Any, list[Any]]:
    """(meta, WKB array or None, field arrays) via pyogrio, guessing a shapefile's encoding."""
    encodings: list[str | None] = [None]
    if fmt is FileFormat.SHAPEFILE and not path.with_suffix(".cpg").exists():
        # Without a .cpg GDAL assumes Latin-1; Chinese shapefiles are UTF-8 or GBK.
        encodings = ["UTF-8", "GBK"]
    last_error: Exception | None = None
    for encoding in encodings:
        try:
            with warnings.catch_warnings():
                # "Non closed ring detected": such rings are reported per feature below.
                warnings.simplefilter("ignore", RuntimeWarning)
                meta, _, wkb, fields = pyogrio.raw.read(
                    path, encoding=encoding, read_geometry=fmt is not FileFormat.CSV
                )
            return meta, wkb, list(fields)
        except UnicodeDecodeError as exc:
            last_error = exc
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise UnreadableFile(f"{path.name} could not be read as {fmt.value}: {exc}") from exc
    raise UnreadableFile(
        f"{path.name} has text in neither UTF-8 nor GBK ({last_error}); add a .cpg file "
        "naming its encoding."
    )


def _wkb_geometries(wkb: Any, problems: dict[int, str]) -> GeometryArray:
    wkb = np.asarray(wkb, dtype=object)
    try:
        geoms: GeometryArray = shapely.from_wkb(wkb)
        return geoms
    except shapely.errors.ShapelyError:  # explained one by one below; rare, so done twice
        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    for i in np.flatnonzero(pd.isna(geoms) & ~pd.isna(wkb)):
        problems[int(i)] = _parse_problem(bytes(wkb[i]))
    return geoms


def _csv_geometries(
    path: Path, attributes: pd.DataFrame, problems: dict[int, str]
) -> GeometryArray:
    column = next((c for c in attributes.columns if c in _WKT_COLUMNS), None)
    lon_column = next((c for c in attributes.columns if c in _LON_COLUMNS), None)
    lat_column = next((c for c in attributes.columns if c in _LAT_COLUMNS), None)
    if column is None and lon_column is not None and lat_column is not None:
        return _csv_points(attributes, lon_column, lat_column, problems)
    if column is None:
        raise UnreadableFile(
            f"{path.name} has no geometry column; put each feature's polygon as WKT in a "
            "column named WKT, or a point's lon and lat in columns named lon and lat "
            f"(columns found: {', '.join(map(str, attributes.columns))})."
        )
    wkt = np.array(
        [v.strip() if isinstance(v, str) and v.strip() else None for v in attributes.pop(column)],
        dtype=object,
    )
    geoms: GeometryArray = shapely.from_wkt(wkt, on_invalid="ignore")
    for i in np.flatnonzero(pd.isna(geoms) & ~pd.isna(wkt)):
        problems[int(i)] = _parse_problem(str(wkt[i]))
    return geoms


def _number(value: Any) -> float | None:
    """A coordinate cell as a float (None when blank or not a number)."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def _csv_points(
    attributes: pd.DataFrame, lon_column: str, lat_column: str, problems: dict[int, str]
) -> GeometryArray:
    """Points from a CSV's lon and lat columns (removed from the attributes); a row whose
    coordinates are blank or not numbers has no geometry and a problem saying which."""
    lons, lats = attributes.pop(lon_column).tolist(), attributes.pop(lat_column).tolist()
    geoms: GeometryArray = np.empty(len(lons), dtype=object)
    for i, (raw_lon, raw_lat) in enumerate(zip(lons, lats, strict=True)):
        lon, lat = _number(raw_lon), _number(raw_lat)
        if lon is None or lat is None:
            shown = raw_lon if lon is None else raw_lat
            name = lon_column if lon is None else lat_column
            problems[i] = (
                f"{name} '{'' if shown is None else shown}' is not a number; give the point's "
                "lon and lat in decimal degrees."
            )
            geoms[i] = None
        else:
            geoms[i] = shapely.Point(lon, lat)
    return geoms


def _parse_problem(raw: str | bytes) -> str:
    """Why a geometry shapely could not read is unusable, in parse_geometry's words."""
    try:
        parse_geometry(raw)
    except GeometryError as exc:
        return str(exc)
    return "geometry could not be read; give a Polygon or MultiPolygon."


def _declared_crs(source: str, declared: str | pyproj.CRS | None) -> pyproj.CRS | None:
    """The file's declared system, or None when it is absent or plain lon/lat."""
    if declared is None or declared == "":
        return None
    try:
        system = pyproj.CRS.from_user_input(declared)
    except CRSError as exc:
        raise UnreadableFile(
            f"{source} declares a coordinate system pyproj does not understand ({exc}); "
            "fix or remove its .prj / crs entry."
        ) from exc
    return None if _is_storage_lon_lat(system) else system


def _is_storage_lon_lat(system: pyproj.CRS) -> bool:
    """True for WGS84 or CGCS2000 lon/lat however it is spelt (EPSG, OGC:CRS84, ESRI WKT …)."""
    if not system.is_geographic:
        return False
    if system.to_epsg(min_confidence=70) in _LON_LAT_EPSG:
        return True
    datum = system.datum.name.lower().replace("_", " ") if system.datum else ""
    return ("china" in datum and "2000" in datum) or (
        "1984" in datum and ("wgs" in datum or "world geodetic" in datum)
    )


def blank(geoms: GeometryArray, mask: NDArray[np.bool_]) -> GeometryArray:
    """A copy of `geoms` with None where `mask` is true."""
    result = np.array(geoms, dtype=object, copy=True)
    result[mask] = None
    return result


def _out_of_range(geoms: GeometryArray) -> NDArray[np.bool_]:
    """Features with a coordinate outside lon -180..180 / lat -90..90 (or not finite)."""
    bounds = shapely.bounds(geoms)
    present = ~pd.isna(geoms) & ~shapely.is_empty(geoms)
    with np.errstate(invalid="ignore"):
        inside = (
            (bounds[:, 0] >= -180)
            & (bounds[:, 2] <= 180)
            & (bounds[:, 1] >= -90)
            & (bounds[:, 3] <= 90)
        )
    result: NDArray[np.bool_] = present & ~inside
    return result


def _explain_bounds(geoms: GeometryArray, bad: NDArray[np.bool_], problems: dict[int, str]) -> None:
    for i in np.flatnonzero(bad):
        try:
            validate_lon_lat_bounds(geoms[i], label="geometry")
            problems[int(i)] = "geometry has coordinates that are not finite numbers."
        except GeometryError as exc:
            problems[int(i)] = str(exc)


def _from_lon_lat(geoms: GeometryArray, crs: Crs, problems: dict[int, str]) -> GeometryArray:
    """Check lon/lat ranges, then remove a GCJ-02/BD-09 offset; bad features become None."""
    bad = _out_of_range(geoms)
    _explain_bounds(geoms, bad, problems)
    geoms = blank(geoms, bad)
    if crs in (Crs.CGCS2000, Crs.WGS84):
        return geoms

    def to_storage(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = to_storage_many(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([lon, lat])

    converted: GeometryArray = shapely.transform(geoms, to_storage)
    return converted


def _from_declared(
    geoms: GeometryArray, system: pyproj.CRS, problems: dict[int, str]
) -> GeometryArray:
    """Transform from the file's declared system to EPSG:4490; check the result's ranges."""
    transformer = pyproj.Transformer.from_crs(system, STORAGE_SRID, always_xy=True)

    def to_storage(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
        return np.column_stack([lon, lat])

    converted: GeometryArray = shapely.transform(geoms, to_storage)
    bad = _out_of_range(converted)
    for i in np.flatnonzero(bad):
        problems[int(i)] = (
            f"geometry does not fall on the earth when read as {system.name}; check the "
            "file's .prj / declared coordinate system."
        )
    return blank(converted, bad)

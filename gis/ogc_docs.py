"""The documents of the OGC API (landing page, conformance, collections, queryables, tilesets,
the WebMercatorQuad tile matrix set, TileJSON) as plain dicts, with no web framework.

Links carry the caller's `api_key`/`key` query parameter when the caller signed in with one,
so a client that cannot send headers (QGIS's OGC API provider) can follow them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from gis import ogc, tiles

JSON: Final = "application/json"
HTML: Final = "text/html"
MVT: Final = "application/vnd.mapbox-vector-tile"
TMS: Final = "WebMercatorQuad"
TMS_URI: Final = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"

_FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf"
_TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf"
CONFORMANCE: Final = (
    f"{_FEATURES}/core",
    f"{_FEATURES}/geojson",
    f"{_FEATURES}/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    f"{_TILES}/core",
    f"{_TILES}/tileset",
    f"{_TILES}/tilesets-list",
    f"{_TILES}/geodata-tilesets",
    f"{_TILES}/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
)


@dataclass(frozen=True)
class Urls:
    """Builds absolute links under the API root (…/ogc), keeping `keep` query parameters."""

    root: str
    keep: dict[str, str] = field(default_factory=dict)

    def __call__(self, path: str = "", **params: str | int) -> str:
        query = {**{k: str(v) for k, v in params.items()}, **self.keep}
        url = self.root.rstrip("/") + path
        return f"{url}?{urlencode(query, safe='{}')}" if query else url


def _link(href: str, rel: str, type_: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"href": href, "rel": rel, "type": type_, "title": title, **extra}


def _self_links(urls: Urls, path: str, title: str) -> list[dict[str, Any]]:
    return [
        _link(urls(path, f="json"), "self", JSON, f"{title} (JSON)"),
        _link(urls(path, f="html"), "alternate", HTML, f"{title} (HTML)"),
    ]


def landing(urls: Urls, openapi_url: str) -> dict[str, Any]:
    """The landing page: what the API is and where everything else is."""
    return {
        "title": "gridgov 网格化社会治理 OGC API",
        "description": "行政区划、网格、建筑、城市部件和事件数量 (OGC API – Features and Tiles); "
        "admin units, grids, buildings, city parts and event counts of your area",
        "links": [
            *_self_links(urls, "", "本页 this document"),
            _link(
                openapi_url,
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
                "OpenAPI 接口描述 the API definition",
            ),
            _link(urls("/conformance"), "conformance", JSON, "一致性 conformance classes"),
            _link(urls("/collections"), "data", JSON, "图层 collections"),
            _link(
                urls("/tileMatrixSets"),
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                JSON,
                "瓦片矩阵集 tile matrix sets",
            ),
        ],
    }


def conformance() -> dict[str, Any]:
    """The conformance classes gridgov implements."""
    return {"conformsTo": list(CONFORMANCE)}


def _tiles_links(urls: Urls, collection_id: str) -> list[dict[str, Any]]:
    return [
        _link(
            urls(f"/collections/{collection_id}/tiles"),
            "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
            JSON,
            "矢量瓦片 vector tilesets",
        ),
    ]


def collection_doc(urls: Urls, found: ogc.Collection, extent: list[float] | None) -> dict[str, Any]:
    """One collection's description: extent, CRS, links to items, queryables and tiles."""
    path = f"/collections/{found.id}"
    links = [
        *_self_links(urls, path, found.title),
        _link(urls(f"{path}/items", f="json"), "items", ogc.GEOJSON, "要素 features"),
        _link(urls(f"{path}/items", f="html"), "items", HTML, "要素 features (HTML)"),
        _link(
            urls(f"{path}/queryables"),
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "application/schema+json",
            "可筛选属性 queryables",
        ),
    ]
    if found.tile_layer:
        links += _tiles_links(urls, found.id)
    doc: dict[str, Any] = {
        "id": found.id,
        "title": found.title,
        "description": found.description,
        "itemType": "feature",
        "crs": list(ogc.SUPPORTED_CRS),
        "storageCrs": ogc.CGCS2000,
        "links": links,
    }
    extent_doc: dict[str, Any] = {}
    if extent is not None:
        extent_doc["spatial"] = {"bbox": [extent], "crs": ogc.CRS84}
    if found.temporal:
        extent_doc["temporal"] = {
            "interval": [[None, None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    if extent_doc:
        doc["extent"] = extent_doc
    return doc


def collections_doc(urls: Urls, extent: list[float] | None) -> dict[str, Any]:
    """Every collection."""
    return {
        "links": _self_links(urls, "/collections", "图层 collections"),
        "crs": list(ogc.SUPPORTED_CRS),
        "collections": [collection_doc(urls, c, extent) for c in ogc.COLLECTIONS.values()],
    }


def queryables_doc(urls: Urls, found: ogc.Collection) -> dict[str, Any]:
    """The JSON Schema of the properties `name=value` filters on (Part 3 queryables)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": urls(f"/collections/{found.id}/queryables"),
        "type": "object",
        "title": found.title,
        "properties": {q.name: {"type": q.type, "title": q.title} for q in found.queryables},
        "additionalProperties": False,
    }


def items_doc(
    urls: Urls,
    found: ogc.Collection,
    query: ogc.ItemsQuery,
    page: ogc.ItemsPage,
    params: dict[str, str],
) -> dict[str, Any]:
    """The FeatureCollection of one page, with next/prev links and the counts."""
    path = f"/collections/{found.id}/items"
    carried = {k: v for k, v in params.items() if k not in ("offset", "f", "api_key", "key")}
    carried["limit"] = str(query.limit)

    def at(offset: int, f: str = "json") -> str:
        return urls(path, **carried, offset=offset, f=f)

    returned = len(page.features)
    links = [
        _link(at(query.offset), "self", ogc.GEOJSON, "本页 this page (GeoJSON)"),
        _link(at(query.offset, "html"), "alternate", HTML, "本页 this page (HTML)"),
        _link(urls(f"/collections/{found.id}"), "collection", JSON, found.title),
    ]
    if query.offset + returned < page.matched:
        links.append(_link(at(query.offset + returned), "next", ogc.GEOJSON, "下一页 next page"))
    if query.offset > 0:
        links.append(
            _link(at(max(0, query.offset - query.limit)), "prev", ogc.GEOJSON, "上一页 previous")
        )
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "numberMatched": page.matched,
        "numberReturned": returned,
        "links": links,
        "features": page.features,
    }
    if query.requested_limit > ogc.MAX_LIMIT:
        doc["notice"] = (
            f"每页最多 {ogc.MAX_LIMIT} 条: limit {query.requested_limit} is above the most this "
            f"server returns at once ({ogc.MAX_LIMIT}); follow the next link for the rest"
        )
    return doc


def item_doc(urls: Urls, found: ogc.Collection, feature: dict[str, Any]) -> dict[str, Any]:
    """One feature with its links."""
    path = f"/collections/{found.id}/items/{feature['id']}"
    return {
        **feature,
        "links": [
            _link(urls(path, f="json"), "self", ogc.GEOJSON, "本要素 this feature"),
            _link(urls(path, f="html"), "alternate", HTML, "本要素 this feature (HTML)"),
            _link(urls(f"/collections/{found.id}"), "collection", JSON, found.title),
        ],
    }


# -- tiles --------------------------------------------------------------------------------------


def tile_layer(found: ogc.Collection) -> tiles.TileLayer:
    """The tile layer of a collection; OgcError 404 when it has none."""
    if found.tile_layer is None:
        with_tiles = ", ".join(c.id for c in ogc.COLLECTIONS.values() if c.tile_layer)
        raise ogc.OgcError(
            f"没有矢量瓦片: collection '{found.id}' has no tiles; these have: {with_tiles}",
            status=404,
        )
    return tiles.LAYERS[found.tile_layer]


def _tile_template(urls: Urls, found: ogc.Collection) -> str:
    return urls(f"/collections/{found.id}/tiles/{TMS}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}")


def _tileset_summary(urls: Urls, found: ogc.Collection) -> dict[str, Any]:
    return {
        "title": f"{found.title} ({TMS})",
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TMS_URI,
        "links": [
            _link(urls(f"/collections/{found.id}/tiles/{TMS}"), "self", JSON, "瓦片集 tileset"),
            _link(
                urls(f"/tileMatrixSets/{TMS}"),
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                JSON,
                TMS,
            ),
        ],
    }


def tilesets_doc(urls: Urls, found: ogc.Collection) -> dict[str, Any]:
    """The tilesets of a collection (one: WebMercatorQuad, Mapbox Vector Tiles)."""
    tile_layer(found)
    return {
        "links": [_link(urls(f"/collections/{found.id}/tiles"), "self", JSON, "瓦片集 tilesets")],
        "tilesets": [_tileset_summary(urls, found)],
    }


def tileset_doc(urls: Urls, found: ogc.Collection, extent: list[float] | None) -> dict[str, Any]:
    """A tileset's metadata: its tile matrix set, zoom limits, layer and tile URL template."""
    layer = tile_layer(found)
    doc = _tileset_summary(urls, found)
    doc["tileMatrixSetLimits"] = [
        {
            "tileMatrix": str(z),
            "minTileRow": 0,
            "maxTileRow": 2**z - 1,
            "minTileCol": 0,
            "maxTileCol": 2**z - 1,
        }
        for z in range(layer.minzoom, tiles.MAX_ZOOM + 1)
    ]
    doc["layers"] = [
        {
            "id": layer.name,
            "dataType": "vector",
            "geometryDimension": 0 if layer.name == "parts" else 2,
            "minTileMatrix": str(layer.minzoom),
            "maxTileMatrix": str(tiles.MAX_ZOOM),
            "propertiesSchema": {
                "type": "object",
                "properties": {name: {} for name in (*layer.properties, *layer.computed)},
            },
        }
    ]
    if extent is not None:
        doc["boundingBox"] = {"lowerLeft": extent[:2], "upperRight": extent[2:], "crs": ogc.CRS84}
    doc["links"] += [
        _link(
            _tile_template(urls, found), "item", MVT, "矢量瓦片 Mapbox Vector Tile", templated=True
        ),
        _link(
            urls(f"/collections/{found.id}/tiles/{TMS}", f="tilejson"),
            "alternate",
            JSON,
            "TileJSON",
        ),
        _link(urls(f"/collections/{found.id}"), "collection", JSON, found.title),
    ]
    return doc


def tilejson_doc(urls: Urls, found: ogc.Collection, extent: list[float] | None) -> dict[str, Any]:
    """The tileset as TileJSON 3.0.0 (XYZ template for MapLibre, Leaflet, QGIS)."""
    layer = tile_layer(found)
    xyz = urls(f"/collections/{found.id}/tiles/{TMS}/{{z}}/{{y}}/{{x}}")
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": found.title,
        "description": found.description,
        "scheme": "xyz",
        "tiles": [xyz],
        "minzoom": layer.minzoom,
        "maxzoom": tiles.MAX_ZOOM,
        "vector_layers": [
            {
                "id": layer.name,
                "fields": {name: "" for name in (*layer.properties, *layer.computed)},
                "minzoom": layer.minzoom,
                "maxzoom": tiles.MAX_ZOOM,
            }
        ],
    }
    if extent is not None:
        doc["bounds"] = extent
    return doc


def tile_matrix_sets_doc(urls: Urls) -> dict[str, Any]:
    """The tile matrix sets gridgov serves: WebMercatorQuad only."""
    return {
        "tileMatrixSets": [
            {
                "id": TMS,
                "title": "Google Maps Compatible for the World",
                "uri": TMS_URI,
                "links": [_link(urls(f"/tileMatrixSets/{TMS}"), "self", JSON, TMS)],
            }
        ]
    }


def web_mercator_quad() -> dict[str, Any]:
    """The WebMercatorQuad tile matrix set (OGC TMS 2.0 JSON), zoom 0..tiles.MAX_ZOOM.

    Matrices are 256-pixel tiles at 0.28 mm pixels: scale denominator 559082264.0287178 / 2**z
    at zoom z, origin at the top-left corner (-20037508.34, 20037508.34) in EPSG:3857 metres.
    """
    top = 559082264.0287178
    return {
        "id": TMS,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "orderedAxes": ["E", "N"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": [
            {
                "id": str(z),
                "scaleDenominator": top / 2**z,
                "cellSize": 2 * tiles.MERCATOR_HALF / 256 / 2**z,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-tiles.MERCATOR_HALF, tiles.MERCATOR_HALF],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": 2**z,
                "matrixHeight": 2**z,
            }
            for z in range(tiles.MAX_ZOOM + 1)
        ],
    }

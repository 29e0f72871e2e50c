"""A synthetic but realistic demo city (宜昌 Yichang), generated from a seed and bulk-loaded.

`generate_city` is pure: it builds the administrative tree (district → street → community),
the grids, the buildings and the houses in memory. `seed_demo_city` writes them with COPY
inside the caller's transaction.

Geometry is generated in a local metric plane (metres east/north of the scale's centre, an
equirectangular frame at its mean latitude) and mapped to CGCS2000 lon/lat (EPSG:4490) by one
affine transform. Each level of the tree is cut top-down (Voronoi cells of density-weighted
seeds, clipped to the parent); in lon/lat the grids are then cleaned into an exact coverage
(shared edges vertex for vertex) and every community, street and district is rebuilt as the
coverage union of its children. So siblings never overlap, nothing falls in a gap, and each
child is covered by its parent exactly, not just up to rounding. Buildings keep a 3 m setback
from their grid's edge.
"""

from sqlalchemy import text

from grid.models import Grid
from tests.factories import COMMUNITY, add_grid, admin_tree, square


def test_grid_is_stored_in_cgcs2000_with_postgis(session):
    admin_tree(session)
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01))
    srid = session.execute(text("SELECT ST_SRID(geom) FROM grid")).scalar_one()
    assert srid == 4490
    assert session.query(Grid).count() == 1

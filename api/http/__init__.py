"""The HTTP adapter: the JSON API's routers, the request's session and gate, and the helpers
only HTTP needs (error shape, body limits, input checks, access log, GeoJSON, Open311 formats)."""

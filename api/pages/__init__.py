"""The pages adapter: server-rendered pages and map dashboards, their templates and assets."""

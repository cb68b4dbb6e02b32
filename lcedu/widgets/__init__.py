"""ipywidgets dashboards: each a thin wrapper over a pure ``render(params) -> Figure``."""

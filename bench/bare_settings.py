"""The project's settings, with bench/bare_endpoint.py's view added to its URLs (bench/export_scale.py)."""

from project.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.bare_endpoint"

"""/api/v1: the JSON API of API.md."""
from flask import Blueprint

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import routes  # noqa: E402,F401
from . import gallery  # noqa: E402,F401
from . import family_search  # noqa: E402,F401
from . import notices  # noqa: E402,F401
from . import supervisor  # noqa: E402,F401
from . import leads  # noqa: E402,F401
from . import clues  # noqa: E402,F401

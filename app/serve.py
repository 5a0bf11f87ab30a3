"""Production server for an already built frontend: `python -m app.serve` (the container's command).

`reflex run --env prod` compiles and bundles the frontend every time it starts, which needs bun,
node_modules and a writable `.web`, and costs every replica seconds of CPU. The image instead
builds the frontend once (`reflex export --frontend-only --no-zip`, see Dockerfile) and this
runs Reflex's own production backend (granian, GRANIAN_WORKERS workers; several when REDIS_URL
is set) with the built pages mounted, on one port. `--backend-only` leaves the pages to a
static host or CDN (docs/operations.md, "Static export").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_dir() -> Path:
    """Where `reflex export` left the pages (Reflex's web dir, REFLEX_WEB_WORKDIR, default .web)."""
    return (ROOT / os.environ.get("REFLEX_WEB_WORKDIR", ".web") / "build" / "client").resolve()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104 - a server
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--backend-only", action="store_true", help="do not serve the built pages")
    args = parser.parse_args(argv)

    mount = not args.backend_only
    if mount and not (build_dir() / "index.html").is_file():
        sys.exit(f"no built frontend in {build_dir()}: run `reflex export --frontend-only --no-zip` first")
    os.chdir(ROOT)

    from reflex.utils import exec as reflex_exec
    from reflex_base import constants
    from reflex_base.config import get_config
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)  # serve the pages as built; never rebuild here

    level = get_config().loglevel.subprocess_level()
    reflex_exec.run_backend_prod(args.host, args.port, level, mount_frontend_compiled_app=mount)


if __name__ == "__main__":
    main()

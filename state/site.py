"""What every page shows from the run-time configuration: the announcement and maintenance notice."""

from __future__ import annotations

import reflex as rx

from app.auth.guard import PUBLIC, requires
from app.config import get_runtime_config


class SiteState(rx.State):
    banner_text: str = ""
    banner_link: str = ""
    maintenance: bool = False
    maintenance_message: str = ""

    @rx.event
    @requires(PUBLIC, reason="the announcement and maintenance notice every visitor sees")
    def load_site(self) -> None:
        config = get_runtime_config()
        self.banner_text = str(config.values["banner.text"])
        self.banner_link = str(config.values["banner.link"])
        self.maintenance = bool(config.values["maintenance.enabled"])
        self.maintenance_message = str(config.values["maintenance.message"])

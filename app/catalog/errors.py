"""The one error the catalog's intake raises: its message is shown to the uploader as is."""


class AdapterRejectedError(ValueError):
    """An upload that cannot become a catalog entry; the message says exactly why."""

    @property
    def message(self) -> str:
        return str(self)

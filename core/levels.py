"""Per-module permission levels, cumulative: none < reference < open < publish."""

from django.db import models


class Level(models.IntegerChoices):
    NONE = 0, "none"
    REFERENCE = 1, "reference"
    OPEN = 2, "open"
    PUBLISH = 3, "publish"

    @classmethod
    def parse(cls, name: str) -> "Level":
        """The level called `name` ("reference"...); ValueError for anything else."""
        for level in cls:
            if level.label == name:
                return level
        raise ValueError(f"unknown level {name!r}: use one of none, reference, open, publish")


# guardian codename of the object permission that grants each level on a module
LEVEL_CODENAMES = {
    Level.REFERENCE: "reference_module",
    Level.OPEN: "open_module",
    Level.PUBLISH: "publish_module",
}
CODENAME_LEVELS = {codename: level for level, codename in LEVEL_CODENAMES.items()}

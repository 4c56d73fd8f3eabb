"""Level badges: reference=info, open=primary, publish=success, none=secondary."""

from django import template
from django.utils.html import format_html

from core.levels import Level

register = template.Library()

_COLOURS = {
    Level.NONE: "secondary",
    Level.REFERENCE: "info",
    Level.OPEN: "primary",
    Level.PUBLISH: "success",
}


@register.simple_tag
def level_badge(level, extra: str = ""):
    """<span class="badge text-bg-info" data-level="reference">reference</span>."""
    try:
        level = Level(int(level or 0))
    except (TypeError, ValueError):
        level = Level.NONE
    return format_html(
        '<span class="badge text-bg-{} level-badge {}" data-level="{}">{}</span>',
        _COLOURS[level],
        extra,
        level.label,
        level.label,
    )


@register.filter
def level_label(level) -> str:
    try:
        return Level(int(level or 0)).label
    except (TypeError, ValueError):
        return "none"


@register.filter
def giving(sources) -> list:
    """The sources that give some level (a default of none is not worth a mention)."""
    return [s for s in sources or () if s.level]

"""Level badges: reference=info, open=primary, publish=success, none=secondary."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.levels import Level

register = template.Library()

_COLOURS = {
    Level.NONE: "secondary",
    Level.REFERENCE: "info",
    Level.OPEN: "primary",
    Level.PUBLISH: "success",
}


def _badge(level: Level, extra: str) -> str:
    return format_html(
        '<span class="badge text-bg-{} level-badge {}" data-level="{}">{}</span>',
        _COLOURS[level],
        extra,
        level.label,
        level.label,
    )


# The badge of each level without extra classes, made once: a catalog page asks for 50.
_PLAIN_BADGES = {level: _badge(level, "") for level in Level}


@register.simple_tag
def level_badge(level, extra: str = ""):
    """<span class="badge text-bg-info" data-level="reference">reference</span>."""
    if not extra and type(level) in (int, Level) and level in _PLAIN_BADGES:
        return _PLAIN_BADGES[level]
    try:
        level = Level(int(level or 0))
    except (TypeError, ValueError):
        level = Level.NONE
    return _badge(level, extra)


@register.filter
def level_label(level) -> str:
    try:
        return Level(int(level or 0)).label
    except (TypeError, ValueError):
        return "none"


_NO_SOURCE = mark_safe('<span class="text-body-secondary">no source gives a level</span>')


@register.simple_tag
def source_list(links):
    """The sources of a level, `links` being [(source, href or None)]: each a span, the
    winner bold, a team linked when it has an href. A tag, not an include: the
    Permissions and Modules tabs render it once per row."""
    if not links:
        return _NO_SOURCE
    return format_html_join(
        ", ",
        '<span class="{}" data-testid="source" data-kind="{}">{} ({})</span>',
        (
            (
                "fw-semibold" if source.wins else "text-body-secondary",
                source.kind,
                format_html('<a href="{}" data-testid="team-link">{}</a>', href, source.label)
                if href
                else source.label,
                level_label(source.level),
            )
            for source, href in links
        ),
    )


_LEVEL_OPTIONS = {
    selected: mark_safe(
        "".join(
            f'<option value="{level.label}"{" selected" if level == selected else ""}>'
            f"{level.label}</option>"
            for level in Level
        )
    )
    for selected in Level
}


@register.simple_tag
def level_options(selected):
    """The <option>s of a level <select>, `selected` (a level, None for none) selected."""
    try:
        return _LEVEL_OPTIONS[Level(int(selected or 0))]
    except (TypeError, ValueError):
        return _LEVEL_OPTIONS[Level.NONE]


@register.filter
def giving(sources) -> list:
    """The sources that give some level (a default of none is not worth a mention)."""
    return [s for s in sources or () if s.level]


# The registry pages' badges as tags, not per-row {% include %}s (an include per row
# costs a template lookup and a context push; a page of 50 rows paid that 100 times).
_MODULE_LEVEL_BADGES = {
    Level.PUBLISH: '<span class="badge text-bg-success level-badge" data-level="publish">'
    "publish</span>",
    Level.OPEN: '<span class="badge text-bg-primary level-badge" data-level="open">open</span>',
    Level.REFERENCE: '<span class="badge text-bg-info level-badge" data-level="reference">'
    "reference</span>",
    Level.NONE: '<span class="badge text-bg-light border level-badge" data-level="none">'
    "none</span>",
}
_UNMARKED = mark_safe(
    '<span class="badge text-bg-light border" data-testid="unmarked" '
    'title="Not marked: may be deployed to other infrastructures">unmarked</span>'
)


@register.simple_tag
def module_level_badge(level):
    """What templates/modules/_level_badge.html renders, for one row."""
    try:
        level = Level(int(level or 0))
    except (TypeError, ValueError):
        level = Level.NONE
    return mark_safe(_MODULE_LEVEL_BADGES[level])


@register.simple_tag
def mark_badge(version):
    """What templates/modules/_mark_badge.html renders, for one row."""
    if version is None or not version.mark:
        return _UNMARKED
    return format_html(
        '<span class="badge text-bg-warning" data-testid="marked" '
        'title="Marked with activation code {}">marked</span>',
        version.marked_code,
    )

"""Sources of a level as the pages show them: a team source links to its team's page."""

from django.urls import reverse

from permissions.models import Team


def team_urls(infrastructure_id, names) -> dict:
    """{team name: its page} for the named teams of one infrastructure, in one query."""
    names = {name for name in names if name}
    if not names:
        return {}
    teams = Team.objects.filter(infrastructure_id=infrastructure_id, name__in=names)
    return {
        name: reverse("team", args=[infrastructure_id, pk])
        for name, pk in teams.values_list("name", "pk")
    }


def source_links(sources, urls: dict, *, giving_only: bool = True) -> list:
    """[(source, href or None)] for the sources (only those that give some level)."""
    return [
        (source, urls.get(source.name) if source.kind == "team" else None)
        for source in sources
        if source.level or not giving_only
    ]


def link_sources(rows, infrastructure_id) -> None:
    """Give each row (with `.sources`) its `.source_links`: one query for the whole page."""
    urls = team_urls(
        infrastructure_id, (s.name for row in rows for s in row.sources if s.kind == "team")
    )
    for row in rows:
        row.source_links = source_links(row.sources, urls)

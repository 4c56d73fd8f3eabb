"""Helpers shared by the modules app's API views: pagination, schema, validation errors."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.errors import NotAllowed
from core.levels import Level
from ippsite.api import ApiError, Pagination, QueryInput
from ippsite.paging import pks_of
from permissions import door

LEVEL_NAMES = [level.label for level in Level]

_paginated: dict = {}


def paginated(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a page of `serializer_class` rows: {count, next, previous, results}."""
    name = f"Paginated{serializer_class.__name__}"
    if name not in _paginated:
        _paginated[name] = type(
            name,
            (serializers.Serializer,),
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializer_class(many=True),
            },
        )
    return _paginated[name]


def paginate(view, request, queryset, render):
    """One page of `queryset` as a paginated response; `render(rows)` gives the results."""
    paginator = Pagination()
    rows = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(render(rows))


def paginate_keys(view, request, keys, fill, render):
    """`paginate` over the primary keys of `keys` (filtered, ordered, nothing per row);
    `fill(pks)` loads the page's rows with what they cost (levels...), `render(rows)` gives
    the results. Nothing is computed for the rows before the page. `keys` may also be
    pks already (`core.statements.CompiledKeys`)."""
    paginator = Pagination()
    pks = list(paginator.paginate_queryset(pks_of(keys), request, view=view))
    by_pk = {row.pk: row for row in fill(pks)} if pks else {}
    rows = [by_pk[pk] for pk in pks if pk in by_pk]
    return paginator.get_paginated_response(render(rows))


def require_support(user) -> None:
    if not door.is_support(user):
        raise NotAllowed("Only support may do this.")


class InfrastructureQuery(QueryInput):
    infrastructure = serializers.IntegerField(
        required=False, min_value=1, help_text="Only those of this infrastructure (its id)."
    )


UNIQUE_CODES = {"unique", "unique_together"}


@contextmanager
def model_validation():
    """Turn a model's full_clean() refusal into 400 invalid_request, or into 409
    `name_taken` when what it refuses is a duplicate (a valid request that clashes with
    what exists, which no schema can rule out)."""
    try:
        yield
    except DjangoValidationError as exc:
        codes = (
            {error.code for error in exc.error_list}
            if not hasattr(exc, "error_dict")
            else {error.code for errors in exc.error_dict.values() for error in errors}
        )
        if codes and codes <= UNIQUE_CODES:
            raise ApiError("name_taken", " ".join(exc.messages), 409) from None
        if hasattr(exc, "message_dict"):
            text = "; ".join(
                f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
                for field, messages in exc.message_dict.items()
            )
        else:
            text = " ".join(exc.messages)
        raise ApiError("invalid_request", text) from None


class LevelField(serializers.ChoiceField):
    """A level by name (none, reference, open, publish) in and out."""

    def __init__(self, **kwargs):
        super().__init__(choices=LEVEL_NAMES, **kwargs)

    def to_internal_value(self, data):
        return Level.parse(super().to_internal_value(data))

    def get_default(self):
        # DRF hands a default over as given, not through to_internal_value.
        value = super().get_default()
        return Level.parse(value) if isinstance(value, str) else value

    def to_representation(self, value):
        return Level(int(value)).label

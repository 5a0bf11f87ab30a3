"""Catalog search: full text over title, summary, tags and author name, filters, sort, pages.

One function, two query plans: PostgreSQL matches a `tsvector` of `adapter.search_text`
(GIN index `ix_adapter_search_tsv`, prefix terms `word:*`); SQLite uses LIKE on the same
lower-cased column. Terms are reduced to word characters first, so nothing a user types is
ever tsquery or LIKE syntax.
"""

from __future__ import annotations

import math
import re

import sqlalchemy as sa
from sqlmodel import Session, select

from app.catalog import caching
from app.catalog.schemas import AdapterCard, FacetValues, SearchPage, SearchParams
from app.models import Adapter, AdapterStatus, AdapterTag, User

MAX_TERMS = 8
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
LISTED = (AdapterStatus.published.value,)


def terms_of(query: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(query or "")][:MAX_TERMS]


def search_text_for(*, title: str, summary: str, tags: list[str], author_name: str) -> str:
    """What `search_text` holds: the searchable words, lower-cased, space-separated."""
    return " ".join([title, summary, " ".join(tags), author_name]).lower()


def _text_condition(session: Session, terms: list[str]) -> sa.ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join(f"{t}:*" for t in terms)
        return sa.func.to_tsvector(sa.literal_column("'simple'"), Adapter.search_text).op("@@")(
            sa.func.to_tsquery(sa.literal_column("'simple'"), tsquery)
        )
    conditions = []
    for term in terms:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Adapter.search_text.like(f"%{escaped}%", escape="\\"))
    return sa.and_(*conditions)


_ORDER = {
    "popular": (Adapter.download_count.desc(), Adapter.id.desc()),
    "newest": (Adapter.created_at.desc(), Adapter.id.desc()),
    "favourites": (Adapter.favourite_count.desc(), Adapter.id.desc()),
}


def _card(adapter: Adapter, author_name: str) -> AdapterCard:
    return AdapterCard(
        slug=adapter.slug,
        title=adapter.title,
        summary=adapter.summary,
        tags=list(adapter.tags),
        task_type=adapter.task_type,
        license=adapter.license,
        base_model=adapter.base_model,
        rank=adapter.rank,
        author_name=author_name,
        status=adapter.status,  # type: ignore[arg-type]
        is_demo=adapter.is_demo,
        download_count=adapter.download_count,
        favourite_count=adapter.favourite_count,
        created_at=adapter.created_at,
        updated_at=adapter.updated_at,
    )


def _query(session: Session, params: SearchParams) -> SearchPage:
    conditions: list[sa.ColumnElement[bool]] = [Adapter.status.in_(LISTED)]  # type: ignore[attr-defined]
    terms = terms_of(params.q)
    if terms:
        conditions.append(_text_condition(session, terms))
    if params.tag:
        tagged = select(AdapterTag.adapter_id).where(AdapterTag.tag == params.tag.lower())
        conditions.append(Adapter.id.in_(tagged))  # type: ignore[union-attr]
    if params.task:
        conditions.append(Adapter.task_type == params.task)
    if params.license:
        conditions.append(Adapter.license == params.license)
    if params.rank:
        conditions.append(Adapter.rank == params.rank)
    where = sa.and_(*conditions)
    total = session.exec(select(sa.func.count()).select_from(Adapter).where(where)).one()
    offset = (params.page - 1) * params.per_page
    rows = session.exec(
        select(Adapter, User.display_name)
        .join(User, User.id == Adapter.author_id)  # type: ignore[arg-type]
        .where(where)
        .order_by(*_ORDER[params.sort])
        .offset(offset)
        .limit(params.per_page)
    ).all()
    return SearchPage(
        items=[_card(adapter, name) for adapter, name in rows],
        total=total,
        page=params.page,
        per_page=params.per_page,
        pages=max(1, math.ceil(total / params.per_page)),
    )


def search_adapters(session: Session, params: SearchParams | None = None, **filters: object) -> SearchPage:
    """Published adapters matching the query; cached until the next catalog write."""
    params = params or SearchParams.model_validate(filters)
    result = caching.cached("search", params.model_dump(), SearchPage, lambda: _query(session, params))
    assert result is not None
    return result


def _facets(session: Session) -> FacetValues:
    listed = Adapter.status.in_(LISTED)  # type: ignore[attr-defined]
    tags = session.exec(
        select(AdapterTag.tag)
        .join(Adapter, Adapter.id == AdapterTag.adapter_id)  # type: ignore[arg-type]
        .where(listed)
        .group_by(AdapterTag.tag)
        .order_by(sa.func.count().desc(), AdapterTag.tag)
        .limit(30)
    ).all()
    tasks = session.exec(select(Adapter.task_type).where(listed).distinct().order_by(Adapter.task_type)).all()
    licenses = session.exec(select(Adapter.license).where(listed).distinct().order_by(Adapter.license)).all()
    ranks = session.exec(select(Adapter.rank).where(listed).distinct().order_by(Adapter.rank)).all()
    return FacetValues(tags=list(tags), task_types=list(tasks), licenses=list(licenses), ranks=list(ranks))


def facet_values(session: Session) -> FacetValues:
    result = caching.cached("facets", {}, FacetValues, lambda: _facets(session))
    assert result is not None
    return result

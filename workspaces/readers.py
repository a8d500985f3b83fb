"""Document readers: who may read a document, and what a person may read.

A document's ``readers`` is a list of *principals*; empty means every member of its
workspace. A principal is one of

- ``user:<email>`` — one person, by their sign-in email (lower case);
- ``group:<slug>`` — every member of that group (``workspaces.models.Group``).

A bare email (``ann@example.com``) is read as ``user:ann@example.com`` and a bare
name (``finance``) as ``group:finance``, so what connectors report maps onto the
format. The organization's owner and a workspace's admins read every document of
that workspace: they can change its readers anyway.

``ReaderScope`` is what one person may read, evaluated afresh on every request (a
member removed from a group loses access on the next one). Retrieval puts it into
its SQL (``sql``/``params``), querysets filter with ``q``, and the answer cache keys
by ``cache_key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.models import User
from workspaces.models import Group, Role, Workspace

USER_PREFIX = "user:"
GROUP_PREFIX = "group:"
# Column width of ``readers`` entries; an email is at most 254 characters.
MAX_PRINCIPAL_CHARS = 320
MAX_READERS = 200


def principal_normalize(value: str) -> str:
    """``value`` in the canonical principal format; raises ValidationError if it is none."""
    value = (value or "").strip()
    kind, sep, name = value.partition(":")
    if sep and kind.lower() == "user":
        email = name.strip().lower()
    elif sep and kind.lower() == "group":
        slug = name.strip().lower()
        if not slug or slugify(slug) != slug:
            raise ValidationError(
                _("%(value)r is not a group: use group:<slug>.") % {"value": value}
            )
        return GROUP_PREFIX + slug
    elif "@" in value:
        email = value.lower()
    elif value and slugify(value) == value.lower():
        return GROUP_PREFIX + value.lower()
    else:
        raise ValidationError(
            _("%(value)r is not a reader: use user:<email> or group:<slug>.") % {"value": value}
        )
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            _("%(value)r is not a reader: %(email)r is not an email.")
            % {"value": value, "email": email}
        ) from None
    return USER_PREFIX + email


def readers_normalize(values: Iterable[str]) -> list[str]:
    """Canonical, de-duplicated, sorted principals; ValidationError names each bad one."""
    values = list(values)
    if len(values) > MAX_READERS:
        raise ValidationError(_("At most %(count)d readers.") % {"count": MAX_READERS})
    errors, principals = [], set()
    for value in values:
        try:
            principal = principal_normalize(value)
        except ValidationError as exc:
            errors.extend(exc.messages)
            continue
        if len(principal) > MAX_PRINCIPAL_CHARS:
            errors.append(
                _("%(value)r… is longer than %(count)d characters.")
                % {"value": value[:40], "count": MAX_PRINCIPAL_CHARS}
            )
        principals.add(principal)
    if errors:
        raise ValidationError(errors)
    return sorted(principals)


@dataclass(frozen=True)
class ReaderChoice:
    """A reader a person can pick: a member or a group of the organization."""

    principal: str
    kind: str  # "person" or "group"
    name: str  # the person's name (else their email), the group's name
    detail: str  # the email, the group's slug


def reader_choices() -> list[ReaderChoice]:
    """Every active member and every group of the organization, as readers (groups first)."""
    groups = [
        ReaderChoice(GROUP_PREFIX + slug, "group", name, slug)
        for slug, name in Group.objects.order_by("name").values_list("slug", "name")
    ]
    people = [
        ReaderChoice(USER_PREFIX + email.lower(), "person", full_name or email, email.lower())
        for email, full_name in User.objects.filter(is_active=True, is_service_account=False)
        .order_by("email")
        .values_list("email", "full_name")
    ]
    return groups + people


def readers_validate(values: Iterable[str], *, keep: Iterable[str] = ()) -> list[ReaderChoice]:
    """What people typed as readers, each matched to a member or a group of the organization.

    Accepts ``user:<email>``, ``group:<slug>``, a bare email, a group's slug or its name
    (``Finance team``). Raises ValidationError naming each entry that is none of the
    organization's members or groups, so a typo never hides a document from everyone.
    Entries in ``keep`` (the document's current readers, e.g. a connector's or an erased
    person's stand-in) are kept as they are, described as unknown.
    """
    values = [value.strip() for value in values if value and value.strip()]
    if len(values) > MAX_READERS:
        raise ValidationError(_("At most %(count)d readers.") % {"count": MAX_READERS})
    choices = {choice.principal: choice for choice in reader_choices()}
    group_names = {c.name.casefold(): c for c in choices.values() if c.kind == "group"}
    kept = set(keep)
    found: dict[str, ReaderChoice] = {}
    errors: list[str] = []
    for value in values:
        if value in kept:
            found[value] = choices.get(value) or ReaderChoice(value, "unknown", value, "")
            continue
        named = group_names.get(value.casefold())
        if named is not None:
            found[named.principal] = named
            continue
        try:
            principal = principal_normalize(value)
        except ValidationError:
            if "@" in value:
                errors.append(_("%(value)r is not an email address.") % {"value": value})
            else:
                errors.append(
                    _("%(value)r is not a group of this organization.") % {"value": value}
                )
            continue
        choice = choices.get(principal) or (
            ReaderChoice(principal, "unknown", principal, "") if principal in kept else None
        )
        if choice is not None:
            found[principal] = choice
        elif principal.startswith(USER_PREFIX):
            errors.append(_("%(value)r is not a member of this organization.") % {"value": value})
        else:
            errors.append(_("%(value)r is not a group of this organization.") % {"value": value})
    if errors:
        raise ValidationError(errors)
    return [found[principal] for principal in sorted(found)]


def readers_describe(principals: Iterable[str]) -> list[ReaderChoice]:
    """What each of a document's readers is (person, group or unknown), with its name."""
    choices = {choice.principal: choice for choice in reader_choices()}
    return [choices.get(p) or ReaderChoice(p, "unknown", p, "") for p in principals]


def readers_coerce(values: Iterable[str]) -> list[str]:
    """What a connector reports, in the principal format as far as it maps onto it.

    Unlike ``readers_normalize`` nothing is refused: a plain name that is not a slug
    (``Finance Team``) becomes ``group:<slugified name>``; a value with another prefix
    (``confluence-group:Ωmega``) or one that cannot be slugified is kept as it is,
    matching nobody (only admins read the document). A value is never dropped, so a
    restricted document never becomes readable by all.
    """
    coerced = set()
    for value in values:
        try:
            coerced.add(principal_normalize(value))
            continue
        except ValidationError:
            pass
        kind, sep, name = value.partition(":")
        if not sep:
            name = value
        elif kind.strip().lower() != "group":
            coerced.add(value)  # someone else's kind of principal: matches nobody here
            continue
        slug = slugify(name)
        coerced.add(GROUP_PREFIX + slug if slug else value)
    return sorted(coerced)


def principals_of(user: User | None) -> tuple[str, ...]:
    """The principals naming ``user``: their email and each group they belong to."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ()
    slugs = Group.objects.filter(memberships__user=user).values_list("slug", flat=True)
    return (USER_PREFIX + user.email.lower(), *sorted(GROUP_PREFIX + s for s in slugs))


@dataclass(frozen=True)
class ReaderScope:
    """What one person may read within the workspaces searched.

    A document is readable when its readers are empty, share a principal with
    ``principals``, or it lies in one of ``all_in_workspaces`` (where the person is an
    admin or the owner). ``ReaderScope.everything(...)`` is for operator tools (the
    retrieval evaluation) that act for no person.
    """

    principals: tuple[str, ...]
    all_in_workspaces: tuple[int, ...] = ()
    # Documents of other workspaces shared into the workspaces searched (ingestion's
    # sharing, docs/sharing.md): their chunks are searched too, under their own readers.
    # Filled by ``reader_scope`` alone, so no caller can forget them or add any.
    shared_documents: tuple[int, ...] = ()

    @classmethod
    def everything(cls, workspace_ids: Sequence[int]) -> ReaderScope:
        return cls(principals=(), all_in_workspaces=tuple(sorted(workspace_ids)))

    def sql(self, alias: str) -> str:
        """A predicate on ``alias.readers`` / ``alias.workspace_id`` (a chunk or document).

        Uses the bound parameters ``%(readers_principals)s`` and ``%(readers_all)s``
        (see ``params``); ``alias`` is a module constant, never input.
        """
        return (
            f"({alias}.readers = '{{}}'"
            f" OR {alias}.readers && %(readers_principals)s::varchar[]"
            f" OR {alias}.workspace_id = ANY(%(readers_all)s))"
        )

    def params(self) -> dict:
        return {
            "readers_principals": list(self.principals),
            "readers_all": list(self.all_in_workspaces),
            "shared_documents": list(self.shared_documents),
        }

    def within_sql(self, alias: str, *, document_column: str = "document_id") -> str:
        """A predicate: ``alias`` lies in the workspaces searched (``%(workspaces)s``) or
        belongs to a document shared into them (``%(shared_documents)s``, see ``params``).
        ``alias`` and ``document_column`` are module constants, never input."""
        if not self.shared_documents:
            return f"{alias}.workspace_id = ANY(%(workspaces)s)"
        return (
            f"({alias}.workspace_id = ANY(%(workspaces)s)"
            f" OR {alias}.{document_column} = ANY(%(shared_documents)s::bigint[]))"
        )

    def within_q(self, workspace_ids: Iterable[int], *, document_field: str = "document_id") -> Q:
        """The same for a queryset (``document_field="pk"`` for documents themselves)."""
        within = Q(workspace_id__in=list(workspace_ids))
        if self.shared_documents:
            within |= Q(**{f"{document_field}__in": list(self.shared_documents)})
        return within

    def q(self, prefix: str = "") -> Q:
        """The same predicate for a queryset of documents (``prefix``: e.g. ``document__``)."""
        return (
            Q(**{f"{prefix}readers": []})
            | Q(**{f"{prefix}readers__overlap": list(self.principals)})
            | Q(**{f"{prefix}workspace_id__in": list(self.all_in_workspaces)})
        )

    def can_read(self, *, workspace_id: int, readers: Sequence[str]) -> bool:
        return (
            not readers
            or workspace_id in self.all_in_workspaces
            or bool(set(readers) & set(self.principals))
        )

    def cache_key(self, workspace_id: int) -> str:
        """A name for exactly the documents of ``workspace_id`` this scope may read.

        Readability depends only on a document's readers list, so two people who match
        the same restricted reader lists see the same documents and share cached
        answers; anyone who reads everything (no restricted documents, or an admin)
        gets ``all``.
        """
        admin = workspace_id in self.all_in_workspaces
        if admin and not self.shared_documents:
            return "all"
        # An admin reads every document of the workspace, but a shared one only under
        # its own readers (their workspace is another).
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT DISTINCT readers FROM ingestion_document
                 WHERE ((workspace_id = %s AND NOT %s) OR id = ANY(%s::bigint[]))
                   AND readers <> '{}'
                """,
                [workspace_id, admin, list(self.shared_documents)],
            )
            restricted = [tuple(sorted(row[0])) for row in cursor.fetchall()]
        mine = set(self.principals)
        visible = sorted(r for r in restricted if mine & set(r))
        if len(visible) == len(restricted):
            return "all"
        digest = hashlib.sha256(repr(visible).encode()).hexdigest()[:32]
        return f"r{digest}"


SharedDocuments = Callable[[Sequence[Workspace]], Sequence[int]]
_shared_documents: list[SharedDocuments] = []


def shared_documents_register(provider: SharedDocuments) -> None:
    """Have ``reader_scope`` add the documents ``provider`` says are shared into the
    workspaces searched (ingestion registers ``ingestion.sharing.shares_effective`` in
    its ``AppConfig.ready()``; this app never imports it). Registering again changes
    nothing."""
    if provider not in _shared_documents:
        _shared_documents.append(provider)


def reader_scope(user: User | None, workspaces: Iterable[Workspace]) -> ReaderScope:
    """What ``user`` may read in ``workspaces`` (which they must already be allowed into):
    their documents, and those shared into them from other workspaces (under their own
    readers).

    No user (e.g. the demo's sample question) reads only unrestricted documents.
    """
    from workspaces.access import role_in

    workspaces = list(workspaces)
    admin_of = tuple(
        sorted(w.pk for w in workspaces if role_in(user, w) == Role.ADMIN)
        if user is not None and user.is_authenticated and user.is_active
        else ()
    )
    shared = sorted({pk for provider in _shared_documents for pk in provider(workspaces)})
    return ReaderScope(
        principals=principals_of(user), all_in_workspaces=admin_of, shared_documents=tuple(shared)
    )

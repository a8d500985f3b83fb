"""Set up a source and its connector in one step, as the portal's form and the API do.

Each kind of source declares the settings a workspace admin fills in (``FORMS``): its
connector's config fields, its secrets (stored encrypted, never shown again) and what
its ``paths`` mean (folders of a mailbox, folders of a share, key prefixes). Adding a
kind to the form means one entry here; the connector still has the last word on what
can work (``SourceConnector.validate``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ingestion import sources
from ingestion.connectors import ConnectorError, SourceSpec, connector_for
from ingestion.models import ConnectorKind, Source
from workspaces.models import Workspace

MAX_NAME = 200
MAX_VALUE = 500
MAX_PATHS = 50
MAX_READERS = 200
# What a list field is called in a message that may be shown away from the field.
LIST_LABELS = {
    "paths": gettext_lazy("Paths"),
    "readers": gettext_lazy("Readers"),
    "include_globs": gettext_lazy("Include patterns"),
    "exclude_globs": gettext_lazy("Exclude patterns"),
}


# Labels and help texts are lazy translations: shown (and named in messages) in the
# language active where they are used, the portal's or an API caller's.
Text = str | Promise


@dataclass(frozen=True)
class Field:
    name: str
    label: Text
    kind: str = "text"  # "text", "multiline", "number" or "choice"
    required: bool = True
    choices: tuple[str, ...] = ()
    default: str = ""
    help: Text = ""
    max_length: int = MAX_VALUE


@dataclass(frozen=True)
class KindForm:
    kind: str
    label: Text
    paths_label: Text
    config: tuple[Field, ...] = ()
    secrets: tuple[Field, ...] = ()
    paths_help: Text = ""


FORMS: dict[str, KindForm] = {
    ConnectorKind.IMAP: KindForm(
        kind=ConnectorKind.IMAP,
        label=gettext_lazy("IMAP mailbox"),
        paths_label=gettext_lazy("Folders"),
        paths_help=gettext_lazy("One folder a line, e.g. INBOX or Archive/2026; empty: INBOX."),
        config=(
            Field("host", gettext_lazy("Server"), help=gettext_lazy("e.g. imap.example.com")),
            Field(
                "port",
                gettext_lazy("Port"),
                kind="number",
                required=False,
                help=gettext_lazy("Empty: 993 with ssl, 143 with starttls."),
            ),
            Field(
                "security",
                gettext_lazy("Security"),
                kind="choice",
                choices=("ssl", "starttls", "none"),
                default="ssl",
                help=gettext_lazy("none is allowed only for a server on this machine."),
            ),
            Field("username", gettext_lazy("User name")),
            Field(
                "ca_certificate",
                gettext_lazy("CA certificate"),
                kind="multiline",
                required=False,
                help=gettext_lazy(
                    "PEM; only for a server whose certificate a private authority signed."
                ),
                # A PEM bundle of a few certificates.
                max_length=20_000,
            ),
        ),
        secrets=(Field("password", gettext_lazy("Password")),),
    ),
    ConnectorKind.CONFLUENCE: KindForm(
        kind=ConnectorKind.CONFLUENCE,
        label=gettext_lazy("Confluence"),
        paths_label=gettext_lazy("Space keys"),
        paths_help=gettext_lazy("One space key a line, e.g. ENG."),
        config=(
            Field(
                "base_url",
                gettext_lazy("Base URL"),
                help=gettext_lazy(
                    "Cloud: https://<site>.atlassian.net; Data Center: the server's URL"
                ),
            ),
            Field(
                "flavour",
                gettext_lazy("Flavour"),
                kind="choice",
                choices=("cloud", "datacenter"),
                default="cloud",
            ),
            Field(
                "email",
                gettext_lazy("Account email"),
                required=False,
                help=gettext_lazy("Cloud only"),
            ),
            Field(
                "email_domain",
                gettext_lazy("Email domain"),
                required=False,
                help=gettext_lazy("Data Center only: turns user names in restrictions into emails"),
            ),
        ),
        secrets=(
            Field(
                "api_token", gettext_lazy("API token"), required=False, help=gettext_lazy("Cloud")
            ),
            Field("personal_access_token", gettext_lazy("Personal access token"), required=False),
        ),
    ),
    ConnectorKind.WEB: KindForm(
        kind=ConnectorKind.WEB,
        label=gettext_lazy("Web directory"),
        paths_label=gettext_lazy("Folder URLs"),
        paths_help=gettext_lazy("One a line, e.g. https://files.example.com/policies/"),
        config=(
            Field(
                "username",
                gettext_lazy("User name"),
                required=False,
                help=gettext_lazy("only for basic auth"),
            ),
        ),
        secrets=(Field("password", gettext_lazy("Password"), required=False),),
    ),
}


class _Problems:
    """Every problem of one submit, by field, raised together (``raise_if_any``)."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.by_field.setdefault(key, []).append(message)

    def collect(self, exc: ValidationError, *, key: str) -> None:
        """Add ``exc``'s messages, under their own fields if it has them, else ``key``."""
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add(field, message)
        else:
            for message in exc.messages:
                self.add(key, message)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


def _clean_fields(
    fields: tuple[Field, ...], values: dict, *, key: str, problems: _Problems
) -> dict:
    """The declared fields of ``values``, typed; each problem is added under ``key``."""
    if not isinstance(values, dict):
        problems.add(key, _("Expected an object of settings."))
        return {}
    unknown = sorted(set(values) - {field.name for field in fields})
    if unknown:
        problems.add(
            key, _("Unknown settings: %(names)s.") % {"names": ", ".join(map(str, unknown))}
        )
    cleaned: dict = {}
    for field in fields:
        raw = values.get(field.name, field.default)
        text = "" if raw is None else str(raw).strip()
        if len(text) > field.max_length:
            problems.add(
                key,
                _("%(label)s is longer than %(max_length)s characters.")
                % {"label": field.label, "max_length": field.max_length},
            )
        elif not text:
            if field.required:
                problems.add(key, _("%(label)s is required.") % {"label": field.label})
        elif field.kind == "number":
            if text.isdigit():
                cleaned[field.name] = int(text)
            else:
                problems.add(key, _("%(label)s must be a whole number.") % {"label": field.label})
        elif field.kind == "choice" and text not in field.choices:
            problems.add(
                key,
                _("%(label)s must be one of %(choices)s.")
                % {"label": field.label, "choices": ", ".join(field.choices)},
            )
        else:
            cleaned[field.name] = text
    return cleaned


def _clean_list(values, *, key: str, limit: int, length: int, problems: _Problems) -> list[str]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        problems.add(key, _("Expected a list of strings."))
        return []
    cleaned = [value.strip() for value in values if value.strip()]
    if len(cleaned) > limit or any(len(value) > length for value in cleaned):
        problems.add(
            key,
            _("%(field)s: at most %(limit)s, of %(length)s characters each.")
            % {"field": LIST_LABELS[key], "limit": limit, "length": length},
        )
    return cleaned


def source_setup(
    *,
    workspace: Workspace,
    kind: str,
    name: str,
    config: dict,
    secrets: dict,
    paths: list[str],
    readers: list[str] | None = None,
    include_globs: list[str] | None = None,
    exclude_globs: list[str] | None = None,
    schedule: str = "0 * * * *",
) -> Source:
    """Create a connector of ``kind`` and a source over it in ``workspace``, or neither.

    Everything is checked before anything is written: the settings against the kind's
    form, then by the connector itself (which names the problem, never a secret).
    Raises ValidationError with every problem found, keyed by field (``kind``, ``name``,
    ``config``, ``secrets``, ``paths``, ``readers``, ``schedule``, globs).
    """
    form = FORMS.get(kind)
    if form is None:
        offered = ", ".join(sorted(FORMS))
        raise ValidationError(
            {
                "kind": _("Sources of kind %(kind)r cannot be set up here: %(offered)s.")
                % {"kind": kind, "offered": offered}
            }
        )
    problems = _Problems()
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        problems.add(
            "name",
            _("Give the source a name of 1 to %(count)s characters.") % {"count": MAX_NAME},
        )
    config = _clean_fields(form.config, config or {}, key="config", problems=problems)
    secrets = _clean_fields(form.secrets, secrets or {}, key="secrets", problems=problems)
    paths = _clean_list(paths or [], key="paths", limit=MAX_PATHS, length=1024, problems=problems)
    readers = _clean_list(
        readers or [], key="readers", limit=MAX_READERS, length=320, problems=problems
    )
    try:
        schedule = sources.schedule_validate(schedule)
    except ValidationError as exc:
        problems.collect(exc, key="schedule")
    globs = {
        key: _clean_list(values or [], key=key, limit=50, length=300, problems=problems)
        for key, values in (("include_globs", include_globs), ("exclude_globs", exclude_globs))
    }
    if not problems.by_field.keys() & {"config", "secrets", "paths", "readers"}:
        # The connector judges the settings only once they are well-formed.
        spec = SourceSpec(
            paths=tuple(paths), readers=tuple(readers), config=config, secrets=secrets
        )
        try:
            connector_for(kind).validate(spec)
        except ConnectorError as exc:
            problems.add("config", exc.reason)
    problems.raise_if_any()
    with transaction.atomic():
        connector = sources.connector_create(name=name, kind=kind, config=config, secrets=secrets)
        return sources.source_create(
            connector=connector,
            workspace=workspace,
            name=name,
            paths=paths,
            readers=readers,
            include_globs=globs["include_globs"],
            exclude_globs=globs["exclude_globs"],
            schedule=schedule,
        )

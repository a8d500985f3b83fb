"""Numbers on the analytics pages: ``{{ value|thousands }}`` (1,234,567)."""

from django import template

from analytics.dashboard import cell_text

register = template.Library()


@register.filter
def thousands(value) -> str:
    """An integer with thousands separators; "—" for no value."""
    return cell_text(value, "count")

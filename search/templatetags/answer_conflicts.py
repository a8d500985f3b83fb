"""``{% answer_conflicts turn as conflicts %}``: the conflicting sources of an answer shown
on the ask page (``search.conflicts``), among the citations the viewer may see."""

from django import template

from search.conflicts import Conflict, conflicts_find

register = template.Library()


@register.simple_tag
def answer_conflicts(turn) -> list[Conflict]:
    if getattr(turn, "hidden", False):
        return []
    return conflicts_find(turn.standalone_text or turn.text, turn.citations)

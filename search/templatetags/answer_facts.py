"""``{% answer_facts turn as facts %}``: the facts that answer a question about attributes
and numbers (``search.fact_answers``), as the person viewing the page may read them."""

from django import template

from search.fact_answers import answer_facts as facts_for

register = template.Library()


@register.simple_tag(takes_context=True)
def answer_facts(context, turn) -> list[dict]:
    request = context.get("request")
    user = getattr(request, "user", None)
    viewer = user if user is not None and user.is_authenticated else None
    return facts_for(turn, viewer=viewer)

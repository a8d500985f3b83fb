"""The favicon: every page links to it, and /favicon.ico (which browsers ask for by
themselves) answers with it instead of a 404 in the console."""

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client

ICON = "opaa/favicon.svg"


def test_favicon_ico_redirects_to_the_icon(world, db):
    response = Client(HTTP_HOST=world.acme.domain).get("/favicon.ico")

    assert response.status_code == 302  # not a 404; temporary: the static URL may change
    assert response["Location"] == static(ICON)


def test_the_icon_is_a_static_svg():
    path = finders.find(ICON)
    assert path, f"static/{ICON} is missing"
    with open(path, encoding="utf-8") as icon:
        text = icon.read()
    assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert text.rstrip().endswith("</svg>")


def test_every_page_links_the_icon(world, db):
    page = Client(HTTP_HOST=world.acme.domain).get("/accounts/login/")

    assert page.status_code == 200
    assert f'<link rel="icon" href="{static(ICON)}" type="image/svg+xml">' in page.content.decode()

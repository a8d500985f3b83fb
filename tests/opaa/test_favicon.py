"""The favicon: every page links to it, and /favicon.ico (which browsers ask for by
themselves) answers with it instead of a 404 in the console."""

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client

ICON = "opaa/favicon.svg"


def test_favicon_ico_redirects_to_the_icon(world, db):
    # An organization's host and the platform's (signup, the operators' admin).
    for host in (world.acme.domain, "localhost"):
        response = Client(HTTP_HOST=host).get("/favicon.ico")

        assert response.status_code == 302, host  # not a 404; temporary: may change
        assert response["Location"] == static(ICON)


def test_the_icon_is_a_static_svg():
    path = finders.find(ICON)
    assert path, f"static/{ICON} is missing"
    with open(path, encoding="utf-8") as icon:
        text = icon.read()
    assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert text.rstrip().endswith("</svg>")


def test_every_page_links_the_icon(world, db, settings):
    settings.SIGNUP_ENABLED = True
    link = f'<link rel="icon" href="{static(ICON)}" type="image/svg+xml">'
    page = Client(HTTP_HOST=world.acme.domain).get("/accounts/login/")
    assert page.status_code == 200
    assert link in page.content.decode()
    # The platform's pages too (signup, when open).
    signup = Client(HTTP_HOST="localhost").get("/signup/")
    assert signup.status_code == 200
    assert link in signup.content.decode()

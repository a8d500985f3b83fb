"""/favicon.ico, which browsers ask for by themselves, on every host (the organizations'
and the platform's): the icon the pages link to."""

from django.templatetags.static import static
from django.views.generic import RedirectView


class FaviconView(RedirectView):
    """A redirect to the static icon (``static/opaa/favicon.svg``)."""

    permanent = False  # the static file's URL may change (a CDN, hashed names)

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("opaa/favicon.svg")

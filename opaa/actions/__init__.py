"""Use cases that span apps, composed here, at the top (see docs/architecture.md).

An app below never imports another app above it; when a use case needs several apps
(erasing a person touches accounts, search and ingestion), its steps are each app's own
services, called in order from a module here. Names follow the project's
``<thing>_<action>`` style (``user_erase``); the place follows Zulip's ``actions/``.
"""

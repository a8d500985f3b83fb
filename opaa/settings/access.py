"""API tokens and the audit log."""

from opaa.settings.env import env

# HMAC key for token digests; empty means SECRET_KEY. Changing it invalidates every token.
TOKEN_PEPPER = env.str("TOKEN_PEPPER", default="")
# The longest lifetime a token may be given, in days (the organization's maximum).
TOKEN_MAX_DAYS = env.int("TOKEN_MAX_DAYS", default=365)
# Requests per token per minute; beyond it the API answers 429 with Retry-After.
TOKEN_RATE_LIMIT_PER_MINUTE = env.int("TOKEN_RATE_LIMIT_PER_MINUTE", default=600)
# Whether the audit log keeps the text of questions and searches (else only their length).
AUDIT_RECORD_QUESTION_TEXT = env.bool("AUDIT_RECORD_QUESTION_TEXT", default=True)
